from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.personal_data import consent_withdrawn_at
from soldee.admin import (
    ModelNamesAdminMixin,
    ReadOnlyAdminMixin,
    StaffViewAuditMixin,
    confirmation_page,
    money_column,
    statement_time_field,
)

from . import (
    admin_rates,  # noqa: F401  (ExchangeRateAdmin)
    documents,
    exchange,
    purposes,
)
from .models import (
    DocumentSequence,
    IncomingNotification,
    Payment,
    PaymentDocument,
    PaymentMethod,
    SandboxTransaction,
)


class PurposeFilter(admin.SimpleListFilter):
    title = _("purpose")
    parameter_name = "purpose"

    BOUGHT_NOTHING = "bought_nothing"  # not a purpose: the payments of any purpose that started nothing

    def lookups(self, request, model_admin):
        return [*purposes.choices(), (self.BOUGHT_NOTHING, _("Bought nothing, to be refunded"))]

    def queryset(self, request, queryset):
        # as the purpose column reads: an invoice that paid the next term is found under "Renewal",
        # a payment that started nothing (whatever its purpose) under "Bought nothing"
        if self.value() == self.BOUGHT_NOTHING:
            return purposes.bought_nothing(queryset)
        return purposes.payments_reading_as(queryset, self.value()) if self.value() else queryset


class GatewayFilter(admin.SimpleListFilter):
    """The known gateways, by their display names (the field's own filter showed the stored
    "sandbox"). From settings and the registry (gateways.known_names), not from the rows: a
    SELECT DISTINCT over the whole table on every load of the list."""
    title = _("payment gateway")
    parameter_name = "gateway"
    bank = True  # "bank": a payment by invoice; no notification carries it

    def lookups(self, request, model_admin):
        from .gateways import display_name, known_names

        return [(name, display_name(name)) for name in known_names(bank=self.bank)]

    def queryset(self, request, queryset):
        return queryset.filter(gateway=self.value()) if self.value() else queryset


class NotificationGatewayFilter(GatewayFilter):
    bank = False


class RefundedFilter(admin.SimpleListFilter):
    title = _("refunded")
    parameter_name = "refunded"

    def lookups(self, request, model_admin):
        return [("none", _("Not refunded")), ("part", _("Partly refunded")), ("full", _("Fully refunded"))]

    def queryset(self, request, queryset):
        from django.db.models import F

        return {
            "none": lambda: queryset.filter(refunded_minor=0),
            "part": lambda: queryset.filter(refunded_minor__gt=0, refunded_minor__lt=F("amount_minor")),
            "full": lambda: queryset.filter(refunded_minor__gte=F("amount_minor"), refunded_minor__gt=0),
        }.get(self.value(), lambda: queryset)()


class GatewayNameMixin:
    """The stored gateway ("sandbox", "bank") by its display name (gateways.display_name, as
    GatewayFilter lists it) on the change page; list columns name `gateway_name`."""

    @admin.display(description=_("payment gateway"), ordering="gateway")
    def gateway_name(self, obj):
        from .gateways import display_name

        return display_name(obj.gateway)

    def get_fields(self, request, obj=None):
        return ["gateway_name" if name == "gateway" else name for name in super().get_fields(request, obj)]

    def get_readonly_fields(self, request, obj=None):
        return ["gateway_name" if name == "gateway" else name for name in super().get_readonly_fields(request, obj)]


@admin.register(Payment)
class PaymentAdmin(GatewayNameMixin, ModelNamesAdminMixin, StaffViewAuditMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "customer", "amount_display", "status", "refunded", "method", "purpose_label",
                    "kzt_amount", "rate", "exchange_rate_date",
                    "paid_at", "gateway_ref", "card_mask")
    list_filter = ("status", RefundedFilter, "method", PurposeFilter, GatewayFilter, "currency")
    refunded = money_column("refunded_minor", description=_("refunded"))
    search_fields = ("public_id", "gateway_ref", "customer__email", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("customer",)

    @admin.display(description=_("purpose"), ordering="purpose")
    def purpose_label(self, obj):
        # What the payment really was (an invoice that paid a subscription's next term reads
        # "Renewal", not "Purchase"): the list reads its page's in one go (get_changelist_instance).
        if not hasattr(obj, "purpose_text"):
            obj.purpose_text = purposes.labels_of([obj])[obj.pk]
        return obj.purpose_text

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # the page, read once: the list template shows these rows
        labels = purposes.labels_of(rows)
        for row in rows:
            row.purpose_text = labels[row.pk]
        return changelist

    # The change page reads coded fields in words: the purpose ("Renewal"), what it refers to
    # (the plan by name, the subscription), the rate's source, the documents shown at checkout.
    READABLE_FIELDS = {"purpose": "purpose_label", "purpose_ref": "purpose_reference",
                       "exchange_rate_source": "rate_source", "pinned_documents": "documents_shown"}

    def get_fields(self, request, obj=None):
        return [self.READABLE_FIELDS.get(name, name) for name in super().get_fields(request, obj)]

    @admin.display(description=_("purpose reference"))
    def purpose_reference(self, obj):
        from plans.models import Plan
        from subscriptions.renewals import PURPOSE_RENEWAL
        from subscriptions.services import PURPOSE_CHECKOUT

        if not obj.purpose_ref:
            return None
        if obj.purpose == PURPOSE_CHECKOUT:
            name = Plan.objects.filter(code=obj.purpose_ref).values_list("name", flat=True).first()
            return f"«{name}» ({obj.purpose_ref})" if name else obj.purpose_ref
        if obj.purpose == PURPOSE_RENEWAL and obj.purpose_ref.isdigit():
            return _("subscription #%(id)s") % {"id": obj.purpose_ref}
        return obj.purpose_ref

    @admin.display(description=_("rate source"))
    def rate_source(self, obj):
        return exchange.source_label(obj.exchange_rate_source) if obj.exchange_rate_source else None

    @admin.display(description=_("documents shown at checkout"))
    def documents_shown(self, obj):
        from django.utils.html import format_html_join

        from .documents import _pinned_names

        names = _pinned_names(obj.pinned_documents or [])
        if not names:
            return None
        return format_html_join("", "<div>{}</div>", ((_("%(document)s, version %(label)s") % {
            "document": n["name"], "label": n["label"]},) for n in names))

    kzt_amount = money_column("kzt_amount_minor", currency="KZT", description=_("amount in tenge"))

    @admin.display(description=_("exchange rate"), ordering="exchange_rate")
    def rate(self, obj):
        # "601.13", not the stored "601,130000" (six places, for rates quoted per 100 units)
        # None: the admin's empty_value_display, as the other empty columns (soldee.admin)
        return exchange.format_rate(obj.exchange_rate) if obj.exchange_rate is not None else None


@admin.register(PaymentMethod)
class PaymentMethodAdmin(GatewayNameMixin, ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("customer", "card_mask", "gateway_name", "is_active", "created_at")
    search_fields = ("customer__email",)
    # The token charges the card: nobody reads it, staff included (found by the staff explorer).
    exclude = ("token",)


@admin.register(IncomingNotification)
class IncomingNotificationAdmin(GatewayNameMixin, ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "gateway_name", "event_type", "event_id", "outcome", "processed_at")
    list_filter = (NotificationGatewayFilter, "event_type", "outcome")
    search_fields = ("event_id", "body")


@admin.register(SandboxTransaction)
class SandboxTransactionAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "invoice_id", "amount", "status", "card_last4")
    list_filter = ("kind", "status")

    amount = money_column("amount_minor", description=_("amount"))


# --- Receipts, refund notes, invoices ---------------------------------------------------

class BankCreditForm(forms.Form):
    received_at = statement_time_field(
        label=_("Credited to our account at"),
        help_text=_("As the bank statement says (Almaty time). It is the date of payment: the term and the "
                    "30 minutes for access run from it."))


class InvoiceStateFilter(admin.SimpleListFilter):
    title = _("invoice")
    parameter_name = "invoice"

    def lookups(self, request, model_admin):
        return [("unpaid", _("Unpaid, still valid")), ("expired", _("Unpaid, expired")), ("paid", _("Paid"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        invoices = queryset.filter(doc_type=PaymentDocument.DocType.INVOICE)
        return {
            "unpaid": lambda: invoices.filter(payment__isnull=True, valid_until__gte=today),
            "expired": lambda: invoices.filter(payment__isnull=True, valid_until__lt=today),
            "paid": lambda: invoices.filter(payment__isnull=False),
        }.get(self.value(), lambda: queryset)()


class PdfFilter(admin.SimpleListFilter):
    """Documents still without their PDF: the render sweep re-sends them up to
    RENDER_MAX_ATTEMPTS worker attempts, then leaves them here for staff."""

    title = "PDF"
    parameter_name = "pdf"

    def lookups(self, request, model_admin):
        return [("missing", _("Not rendered yet")), ("given_up", _("Not rendered, attempts used up"))]

    def queryset(self, request, queryset):
        from soldee.tasks import RENDER_MAX_ATTEMPTS

        return {
            "missing": lambda: queryset.filter(file=""),
            "given_up": lambda: queryset.filter(file="", render_attempts__gte=RENDER_MAX_ATTEMPTS),
        }.get(self.value(), lambda: queryset)()


@admin.register(PaymentDocument)
class PaymentDocumentAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("number", "doc_type", "created_at", "customer", "amount_display", "valid_until",
                    "paid_at", "payment", "pdf")
    list_filter = ("doc_type", InvoiceStateFilter, PdfFilter, "year")
    search_fields = ("number", "customer__email", "payment__public_id", "payment__gateway_ref")
    date_hierarchy = "created_at"
    list_select_related = ("customer", "payment")
    actions = ["mark_paid_by_bank_transfer", "render_again"]

    @admin.display(description="PDF")
    def pdf(self, obj):
        link = format_html('<a href="{}">PDF</a>', reverse("billing:document_pdf", args=[obj.number]))
        if obj.file or not obj.render_attempts:
            return link
        return format_html('{} <span title="{}">{}</span>', link, obj.render_error,
                           ngettext("not rendered: %(count)s attempt", "not rendered: %(count)s attempts",
                                    obj.render_attempts) % {"count": obj.render_attempts})

    def has_render_permission(self, request):
        # Rendering a missing PDF changes nothing a customer agreed to; it needs the change
        # permission all the same (the rows are read-only here).
        return request.user.has_perm("billing.change_paymentdocument")

    @admin.action(description=_("Render the PDF again"), permissions=["render"])
    def render_again(self, request, queryset):
        from . import document_tasks

        missing = list(queryset.filter(file="").values_list("pk", "number"))
        for pk, _number in missing:
            document_tasks.document_render.delay(pk)
        if missing:
            self.message_user(request, _("Queued for rendering: %(numbers)s.") % {
                "numbers": ", ".join(number for _pk, number in missing)})
        else:
            self.message_user(request, _("The selected documents have their PDF already: nothing was queued."),
                              level=messages.WARNING)

    def has_bank_permission(self, request):
        # Confirming money received needs the change permission on payment documents.
        return request.user.has_perm("billing.change_paymentdocument")

    @admin.action(description=_("Invoice paid by bank transfer: start the subscription"),
                  permissions=["bank"])
    def mark_paid_by_bank_transfer(self, request, queryset):
        if queryset.count() != 1:  # each transfer has its own credit time, the date of its payment
            self.message_user(request, _("Select one invoice: each transfer is recorded with the time the bank "
                                         "credited it."), level=messages.ERROR)
            return None
        page_of = dict(title=_("Has the bank transfer arrived?"), warning=_(
            "Mark an invoice paid only when the money is on the bank account: the payment is recorded at the time "
            "the bank credited it, and the agreement is concluded then. The 30-day term starts then too, or, for the "
            "next term of a subscription still running, when its term in use ends. Access is granted now (later "
            "than 30 minutes after the credit counts as late). This cannot be undone (a refund is the way back)."),
            describe=documents.invoice_summary, form_class=BankCreditForm)
        page = confirmation_page(self, request, queryset, **page_of)
        if page is not None:
            return page
        received_at = request.confirmed_data["received_at"]
        for invoice in queryset:
            if invoice.doc_type != PaymentDocument.DocType.INVOICE:
                self.message_user(request, f"{invoice.number}: not an invoice.", level=messages.ERROR)
                continue
            if invoice.payment_id is not None:  # nothing to do: say so, not "paid"
                self.message_user(request, _("%(number)s was already marked paid (payment %(payment)s); nothing was "
                                             "changed.") % {"number": invoice.number,
                                                            "payment": invoice.payment.public_id},
                                  level=messages.WARNING)
                continue
            try:
                payment = documents.invoice_mark_paid(invoice_id=invoice.pk, by=request.user, received_at=received_at)
            except ValueError as exc:  # the credit time: the page again, with what was typed (staff explorer)
                return confirmation_page(self, request, queryset, **page_of, refused=f"{invoice.number}: {exc}")
            except Exception as exc:  # shown to staff; nothing was committed
                self.message_user(request, f"{invoice.number}: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, _("%(number)s: paid, payment %(payment)s.") % {
                    "number": invoice.number, "payment": payment.public_id})
                withdrawn_at = consent_withdrawn_at(invoice.customer)
                if withdrawn_at is not None and getattr(payment, "term", None) is not None:
                    self.message_user(request, f"{invoice.number}: " + documents.CONSENT_WITHDRAWN_STAFF_NOTE % {
                        "date": formats.date_format(timezone.localtime(withdrawn_at), "SHORT_DATETIME_FORMAT")},
                        level=messages.WARNING)
                late = timezone.now() - received_at
                term = getattr(payment, "term", None)
                paid_ahead = term is not None and term.starts_at > received_at  # its 30 minutes run from its start
                if late > timedelta(minutes=30) and not paid_ahead:  # clause 5.2 runs from the credit
                    self.message_user(request, _(
                        "%(number)s was recorded %(minutes)s minutes after the bank credited it: access counts as "
                        "granted late (clause 5.2), a ground for a refund (clause 7). Record transfers the day "
                        "they arrive.") % {"number": invoice.number, "minutes": int(late.total_seconds() // 60)},
                        level=messages.WARNING)


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("doc_type", "year", "last_number")
