"""Object-level authorisation: every customer URL that names an object (by id, uuid or
number) answers 404 to another customer, for GET and POST alike: never 403 (which would
confirm the object exists), never the object's data. The owner gets the page, which
shows that the 404s come from the ownership check and not from a missing object."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from billing.gateways import ChargeResult, ChargeStatus
from billing.models import PaymentDocument, SandboxTransaction
from billing.services import payment_settle
from subscriptions.services import checkout_start


def _purchase(customer, plan, documents, capture):
    payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                             token=f"matrix-{customer.pk}", client_ip="127.0.0.1", user_agent="pytest")
    txn = SandboxTransaction.objects.create(
        kind="hosted", status="approved", idempotency_key=f"hosted:{payment.idempotency_key}",
        invoice_id=str(payment.public_id), amount_minor=payment.amount_minor, currency=payment.currency,
        decided_at=timezone.now())
    with capture(execute=True):
        payment_settle(public_id=payment.public_id, charge=ChargeResult(
            status=ChargeStatus.APPROVED, gateway_ref=str(txn.id), amount_minor=payment.amount_minor,
            currency="KZT", card_token=f"tok-{payment.pk}"), source="test")
    payment.refresh_from_db()
    return payment


def _objects(customer, plan, documents, capture, enqueued) -> dict:
    from accounts import personal_data
    from refunds import services as refunds

    payment = _purchase(customer, plan, documents, capture)
    report = refunds.error_report_create(
        customer=customer, what_fails="The agent does not answer", since=timezone.now() - timedelta(hours=1),
        severity="blocker", attachment=SimpleUploadedFile("screen.png", b"\x89PNG fake", "image/png"))
    refund_request = refunds.refund_request_create(customer=customer, payment_id=payment.pk,
                                                   ground="no_access", explanation="No access")
    with capture(execute=True):
        export = personal_data.data_export_request(customer=customer)
    enqueued.run("accounts.tasks.data_export_build")
    export.refresh_from_db()
    objects = {"payment": payment, "subscription": payment.term.subscription, "report": report,
               "refund_request": refund_request, "acceptance": payment.acceptance, "export": export,
               "document": PaymentDocument.objects.filter(customer=customer).first()}
    try:
        from offer import agreement_copies

        with capture(execute=True):
            agreement_copies.request_copy(acceptance_id=payment.acceptance.pk, by=customer)
        enqueued.run()
    except ImportError:
        pass
    return objects


# (url name, kwargs from the owner's objects, methods to try)
MATRIX = [
    ("billing:return", lambda o: {"public_id": o["payment"].public_id}, ["get"]),
    ("refunds:request_create", lambda o: {"public_id": o["payment"].public_id}, ["get", "post"]),
    ("refunds:request_detail", lambda o: {"pk": o["refund_request"].pk}, ["get"]),
    ("refunds:error_report_detail", lambda o: {"pk": o["report"].pk}, ["get"]),
    ("refunds:error_report_attachment", lambda o: {"pk": o["report"].pk}, ["get"]),
    ("subscriptions:renewal", lambda o: {"subscription_id": o["subscription"].pk}, ["get", "post"]),
    ("subscriptions:renewal_pay", lambda o: {"subscription_id": o["subscription"].pk}, ["get", "post"]),
    ("offer:copy_request", lambda o: {"acceptance_id": o["acceptance"].pk}, ["post"]),
    ("offer:copy_status", lambda o: {"acceptance_id": o["acceptance"].pk}, ["get"]),
    ("offer:copy_download", lambda o: {"acceptance_id": o["acceptance"].pk}, ["get"]),
    ("billing:document_pdf", lambda o: {"number": o["document"].number}, ["get"]),
    ("accounts:data_export_detail", lambda o: {"public_id": o["export"].public_id}, ["get"]),
    ("accounts:data_export_download", lambda o: {"public_id": o["export"].public_id}, ["get"]),
]


@pytest.fixture
def two_customers(customer, other_customer, plan, documents, django_capture_on_commit_callbacks, enqueued):
    return {
        "a": (customer, _objects(customer, plan, documents, django_capture_on_commit_callbacks, enqueued)),
        "b": (other_customer, _objects(other_customer, plan, documents, django_capture_on_commit_callbacks,
                                       enqueued)),
    }


def _urls(objects):
    """(name, url, methods) for every matrix row whose URL exists in the URLconf."""
    rows = []
    for name, build, methods in MATRIX:
        try:
            rows.append((name, reverse(name, kwargs=build(objects)), methods))
        except NoReverseMatch:
            continue  # a module not built yet: the walk in test_csrf_everywhere lists what exists
    return rows


def test_matrix_covers_the_object_urls_that_exist(two_customers):
    _user, objects = two_customers["a"]
    assert objects["document"] is not None, "a paid purchase issues a receipt"
    assert len(_urls(objects)) >= 10


def test_another_customers_objects_are_404_for_get_and_post(two_customers):
    failures = []
    for me, owner in (("a", "b"), ("b", "a")):
        user, _mine = two_customers[me]
        owner_user, theirs = two_customers[owner]
        client = Client()
        client.force_login(user)
        secrets = [theirs["payment"].description.encode(), owner_user.email.encode(),
                   theirs["report"].what_fails.encode()]
        for name, url, methods in _urls(theirs):
            for method in methods:
                response = getattr(client, method)(url, {"on": "0", "ground": "no_access", "explanation": "x"})
                if response.status_code != 404:
                    failures.append(f"{method.upper()} {name} {url} as {me}: {response.status_code}")
                    continue
                body = b"".join(response.streaming_content) if response.streaming else response.content
                leaked = [s for s in secrets if s in body]
                if leaked:
                    failures.append(f"{method.upper()} {name} as {me} leaked {leaked}")
    assert not failures, failures


def test_the_owner_gets_the_same_urls(two_customers):
    user, mine = two_customers["a"]
    client = Client()
    client.force_login(user)
    failures = []
    for name, url, methods in _urls(mine):
        response = client.get(url) if "get" in methods else client.post(url)
        if response.status_code not in (200, 201, 302):
            failures.append(f"{name} {url}: {response.status_code}")
    assert not failures, failures
