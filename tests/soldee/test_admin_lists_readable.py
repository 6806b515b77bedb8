"""Admin lists show amounts as money and codes as words (staff read them)."""

import pytest

from tests.billing.helpers import buy

pytestmark = pytest.mark.django_db


def test_payments_acceptances_and_sandbox_lists_read_as_words_and_money(staff_admin, customer, plan, documents):
    buy(customer, plan, documents)
    payments = staff_admin.get("/admin/billing/payment/").content.decode()
    assert "Purchase" in payments and "₸29,900" in payments
    assert ">subscription.checkout<" not in payments and "2990000" not in payments
    assert staff_admin.get("/admin/billing/payment/?purpose=subscription.checkout").context["cl"].result_count == 1
    assert staff_admin.get("/admin/billing/payment/?purpose=subscription.renewal").context["cl"].result_count == 0
    acceptances = staff_admin.get("/admin/offer/acceptance/").content.decode()
    assert "₸29,900" in acceptances and "2990000" not in acceptances
    sandbox = staff_admin.get("/admin/billing/sandboxtransaction/").content.decode()
    assert "₸29,900" in sandbox and "2990000" not in sandbox


def test_the_payments_list_shows_a_rate_as_a_rate(staff_admin, customer, plan, documents):
    """Found by the explorer: the rate column read "601,130000" (the stored six places)."""
    from decimal import Decimal

    payment = buy(customer, plan, documents)
    type(payment).objects.filter(pk=payment.pk).update(exchange_rate=Decimal("601.130000"))
    page = staff_admin.get("/admin/billing/payment/").content.decode()
    assert "601.13<" in page and "601.130000" not in page


def test_the_payments_list_marks_empty_values_one_way_and_names_the_gateway(staff_admin, customer, plan,
                                                                          documents):
    """Found by the browser explorer: "— -" side by side (our columns' dash, Django's
    default hyphen) and the gateway filter's raw "sandbox"."""
    import re

    from billing.gateways import display_name

    buy(customer, plan, documents)
    response = staff_admin.get("/admin/billing/payment/")
    page = response.content.decode()
    cells = re.findall(r'<td class="field-[a-z_]+[^"]*">(.*?)</td>', page, re.S)
    assert cells and "-" not in [cell.strip() for cell in cells]
    assert re.search(r'<td class="field-rate">—</td>', page)
    assert re.search(r'<td class="field-exchange_rate_date[^"]*">—</td>', page)
    gateways = next(spec for spec in response.context["cl"].filter_specs
                    if getattr(spec, "parameter_name", None) == "gateway")
    assert [label for _value, label in gateways.lookup_choices] == [
        display_name("sandbox"), display_name("cloudpayments"), display_name("bank")]
    assert str(display_name("sandbox")) != "sandbox"
    assert staff_admin.get("/admin/billing/payment/?gateway=sandbox").context["cl"].result_count == 1
    assert staff_admin.get("/admin/billing/payment/?gateway=cloudpayments").context["cl"].result_count == 0


@pytest.mark.parametrize("url", ["/admin/billing/payment/", "/admin/billing/incomingnotification/"])
def test_the_gateway_filter_names_the_known_gateways_without_reading_the_table(staff_admin, settings, url):
    """The filter ran SELECT DISTINCT gateway over the whole table (payments, incoming
    notifications) on every load of the list: its choices are the configured gateway, those
    winding down and the registry's, with "bank" (a payment by invoice) for payments only."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PAYMENT_GATEWAY = "cloudpayments"
    settings.PAYMENT_GATEWAYS_RETIRED = ["oldpay"]
    with CaptureQueriesContext(connection) as queries:
        response = staff_admin.get(url)
    assert response.status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"] and "gateway" in q["sql"]]
    gateways = next(spec for spec in response.context["cl"].filter_specs
                    if getattr(spec, "parameter_name", None) == "gateway")
    expected = ["cloudpayments", "oldpay", "sandbox"] + (["bank"] if "payment/" in url else [])
    assert [value for value, _label in gateways.lookup_choices] == expected


def test_change_pages_show_stored_amounts_as_money(staff_admin, customer, plan, documents, staff):
    """The read-only change pages of payments, acceptances, refunds (and a refund request's
    refund inline) show "₸29,900", never the stored 2990000 labelled "amount minor"."""
    from refunds import services as refund_services
    from subscriptions.models import Subscription

    payment = buy(customer, plan, documents)
    request = refund_services.refund_request_create(customer=customer, payment_id=payment.pk, ground="late",
                                                    explanation="Slow")
    refund = refund_services.refund_request_approve(request_id=request.pk, by=staff)
    subscription = Subscription.objects.get(customer=customer)
    subscription.reminded_price_minor = 2990000
    subscription.save(update_fields=["reminded_price_minor"])
    pages = {
        "payment": f"/admin/billing/payment/{payment.pk}/change/",
        "acceptance": f"/admin/offer/acceptance/{payment.acceptance.pk}/change/",
        "refund": f"/admin/refunds/refund/{refund.pk}/change/",
        "refund request": f"/admin/refunds/refundrequest/{request.pk}/change/",
        "subscription": f"/admin/subscriptions/subscription/{subscription.pk}/change/",
    }
    for name, url in pages.items():
        html = staff_admin.get(url).content.decode()
        assert "₸29,900" in html, name
        assert "2990000" not in html and " minor:" not in html.lower(), name  # the label "Amount minor:"
    payment_page = staff_admin.get(pages["payment"]).content.decode()
    assert "Amount in tenge" in payment_page and "Refunded" in payment_page and "₸0" in payment_page
    assert "Purchase" in payment_page and "subscription.checkout" not in payment_page  # the purpose in words


def test_the_payments_list_shows_and_filters_what_was_refunded(staff_admin, customer, other_customer, plan,
                                                               documents):
    """Reconciling refunds from the payments list: the refunded amount is a column and a
    filter. (Found by the staff explorer: a refunded payment read just "Paid".)"""
    from billing import services as billing

    refunded = buy(customer, plan, documents)
    buy(other_customer, plan, documents, token="tok-2")
    billing.payment_refund_record(payment_id=refunded.pk, amount_minor=1_000_000, gateway_ref="r-1",
                                  refund_key="k-1")
    page = staff_admin.get("/admin/billing/payment/").content.decode()
    assert "₸10,000" in page
    assert staff_admin.get("/admin/billing/payment/?refunded=part").context["cl"].result_count == 1
    assert staff_admin.get("/admin/billing/payment/?refunded=none").context["cl"].result_count == 1
    assert staff_admin.get("/admin/billing/payment/?refunded=full").context["cl"].result_count == 0


def test_the_russian_admin_names_fields_in_russian(staff_admin, customer, plan, documents):
    """Fields declared without a label showed their code name ("gateway ref", "status") in
    the Russian admin; they carry translated labels (soldee.field_labels), without touching
    migrations. (Found by the staff explorer.)"""
    from django.apps import apps

    payment = buy(customer, plan, documents)
    staff_admin.cookies["django_language"] = "ru"
    page = staff_admin.get(f"/admin/billing/payment/{payment.pk}/change/").content.decode()
    assert "Номер в платёжном шлюзе" in page and "Gateway ref" not in page
    listing = staff_admin.get("/admin/subscriptions/subscription/").content.decode()
    assert "Оплачено до" in listing and "Current period end" not in listing
    # A plain-English help text (the payment's pinned documents, which had one, now read by name).
    from offer.models import Acceptance

    acceptance = Acceptance.objects.get(payment=payment)
    assert "Момент оплаты (пункт 2.3)." in staff_admin.get(f"/admin/offer/acceptance/{acceptance.pk}/change/").content.decode()
    # Every field of our apps has a label of its own (a new field must add one).
    from soldee.field_labels import FIELD_LABELS

    ours = ("accounts", "plans", "offer", "subscriptions", "billing", "refunds", "soldee")
    unlabelled = [f"{m._meta.label}.{f.name}" for m in apps.get_models() if m._meta.app_label in ours
                  for f in m._meta.concrete_fields
                  if f.name != "id" and f._verbose_name is None and f.name not in FIELD_LABELS]
    assert unlabelled == []


def test_the_russian_admin_names_rows_and_filters_in_russian(staff_admin, customer, plan, documents):
    """Found by the staff explorer: "AcceptedDocument object (1)", "30-minute deadline"."""
    payment = buy(customer, plan, documents)
    staff_admin.cookies["django_language"] = "ru"
    page = staff_admin.get(f"/admin/offer/acceptance/{payment.acceptance.pk}/change/").content.decode()
    assert "AcceptedDocument object" not in page and "Принятые документы" in page
    grants = staff_admin.get("/admin/subscriptions/accessgrant/").content.decode()
    assert "Срок 30 минут" in grants and "Нарушен (отмечен)" in grants and "30-minute deadline" not in grants


def test_staff_filter_unpaid_invoices_and_missed_error_deadlines(staff_admin, company, customer, plan, documents,
                                                                 time_machine):
    from datetime import timedelta

    from django.utils import timezone

    from billing import documents as billing_documents
    from refunds import services as refund_services

    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    report = refund_services.error_report_create(customer=customer, what_fails="down", severity="blocker",
                                                 since=timezone.now() - timedelta(hours=1))
    refund_services.error_report_triage(report_id=report.pk, by=staff_admin.staff, critical=True, reason="Yes")
    count = lambda url: staff_admin.get(url).context["cl"].result_count  # noqa: E731
    assert count("/admin/billing/paymentdocument/?invoice=unpaid") == 1
    assert count("/admin/refunds/errorreport/?missed=yes") == 0
    time_machine.move_to(timezone.now() + timedelta(days=30), tick=False)
    staff_admin.force_login(staff_admin.staff)
    assert count("/admin/billing/paymentdocument/?invoice=unpaid") == 0
    assert count("/admin/billing/paymentdocument/?invoice=expired") == 1 and invoice.number
    assert count("/admin/refunds/errorreport/?missed=yes") == 1


def test_russian_admin_page_titles_do_not_put_a_model_name_after_a_verb(staff_admin, customer, plan, documents):
    """Django's "Просмотреть %s" made "Просмотреть подписка" (nominative after a verb):
    locale_vendor/ru reads "Просмотр: подписка". (Found by the explorers.)"""
    from subscriptions.models import Subscription

    buy(customer, plan, documents)
    sub = Subscription.objects.get(customer=customer)
    staff_admin.cookies["django_language"] = "ru"
    page = staff_admin.get(f"/admin/subscriptions/subscription/{sub.pk}/change/").content.decode()
    assert "Просмотр: подписка" in page and "Просмотреть подписка" not in page
