"""Staff review: thin actions that call refunds.services and report with message_user."""

from decimal import Decimal

from babel.numbers import get_currency_precision
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from billing.gateways import GatewayError
from soldee.admin import ModelNamesAdminMixin, ReadOnlyAdminMixin, statement_time_field
from soldee.money import format_money

from . import attachments, selectors, services
from .models import CalendarException, ErrorReport, Refund, RefundRequest


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason / note (sent to the customer as typed)"),
                             widget=forms.Textarea(attrs={"rows": 4}))


class BankTransferForm(forms.Form):
    reference = forms.CharField(
        label=_("Bank reference of the transfer"), max_length=100,
        help_text=_("The payment order number (or the bank's reference) of the money paid back."))
    transferred_at = statement_time_field(
        label=_("Sent by the bank at"),
        help_text=_("As the bank statement says (Almaty time): the refund's date on the refund note, in the "
                    "accounting export and in the customer's e-mail."))


class CardRefusedForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the money cannot go back to the card (recorded; not sent to the customer)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("E.g. the gateway's answer: the card is closed, or the payment is too old to refund."))
    checked_at_gateway = forms.BooleanField(
        label=_("I checked in the gateway's back office: this refund was not made there"), required=False,
        help_text=_("Needed when the gateway's answer to an earlier try was lost (the refund shows \"gateway's "
                    "answer lost\"): the money may have gone back already."))


class ApproveForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount to refund"), required=False, min_value=Decimal("0.01"), decimal_places=2,
        help_text=_("In the payment's currency (e.g. 14950 for 14 950 ₸). Leave blank for a full refund "
                    "of everything paid and not yet refunded. A partial amount is for one request at a time."),
    )
    reason = forms.CharField(label=_("Note to the customer (optional)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))


def to_minor(amount: Decimal, currency: str) -> int:
    scaled = amount.scaleb(get_currency_precision(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(scaled)


class StaffActionsMixin:
    """An admin action that first asks for a form (a reason, an amount), then applies."""

    def has_decide_permission(self, request):
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def _form_action(self, request, queryset, *, form_class, title, apply, describe=None):
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            rows = list(queryset)
            for obj in rows:
                try:
                    result = apply(obj, form.cleaned_data)
                except (services.RefundError, ValueError) as exc:
                    if len(rows) == 1:  # the form again, with what was typed and why (staff explorer)
                        form.add_error(None, str(exc))
                        break
                    self.message_user(request, f"{self._number(obj)}: {exc}", level=messages.ERROR)
                else:
                    # "#1: Одобрено, …" as "#2: Отклонено" (a status label starts with a capital)
                    self.message_user(request, f"{self._number(obj)}: {capfirst(str(result))}",
                                      level=messages.SUCCESS)
            else:
                return None
        return TemplateResponse(request, "refunds/admin/action_form.html", {
            **self.admin_site.each_context(request),
            "title": title, "form": form, "queryset": queryset, "opts": self.model._meta,
            "rows": [(obj, self._row_note(obj, describe)) for obj in queryset],
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })

    @staticmethod
    def _number(obj) -> str:
        """"#2"; a refund with its request's number, which the customer's e-mails give."""
        return getattr(obj, "number_display", None) or f"#{obj.pk}"

    @staticmethod
    def _row_note(obj, describe) -> str:
        """What the action does to the row, and the language the customer's e-mail (with
        the note typed here, as typed) is in."""
        parts = [str(describe(obj))] if describe else []
        customer = getattr(obj, "customer", None)
        if customer is not None:
            parts.append(str(_("The customer's e-mails are in %(language)s.") % {
                "language": customer.get_language_display()}))
        return " ".join(parts)


# The timeline's event details (Event.data keys) as staff read them; a key not listed here
# takes the model field's label of that name (soldee.field_labels), else shows as stored.
EVENT_DATA_LABELS = {
    "amount": _("amount"),
    "documents": _("documents"),
    "from": pgettext_lazy("event detail: the previous status", "from"),
    "to": pgettext_lazy("event detail: the new status", "to"),
    "was": pgettext_lazy("event detail: the previous status", "was"),
    "term": _("paid term"),
    "on_time": _("on time"),
    "minutes_after_payment": _("minutes after payment"),
    "ground": _("ground"),
    "eligible_by_records": _("eligible by records"),
    "refund": _("refund"),
    "refund_request": _("refund request"),
    "due": _("deadline"),
    # Every other key the portal's events record (tests/i18n/test_admin_timeline_details.py).
    "access_until": _("access until"),
    "agent_keys_revoked": _("AI agent keys revoked"),
    "ahead": _("paid ahead"),
    "attachment": _("attachment"),
    "attempt": _("try"),
    "builds": _("builds before"),
    "by_seconds": _("moved forward by, seconds"),
    "calendar_date": _("calendar date"),
    "card": _("saved card"),
    "card_refused": _("card refund refused"),
    "cards_erased": _("saved cards erased"),
    "cause": _("cause"),
    "changes": _("changes"),
    "checked_at_gateway": _("checked at the gateway"),
    "code": _("code"),
    "date": _("date"),
    "effective_date": _("in force from"),
    "expires_at": _("expires at"),
    "exports_deleted": _("data exports deleted"),
    "extra_try": _("extra try"),
    "fields": _("fields changed"),
    "first": _("first transaction"),
    "full": _("full refund"),
    "gateway_error": _("gateway's error"),
    "jump": _("change from the previous rate"),
    "jump_accepted": _("change accepted"),
    "jump_confirmed": _("change confirmed"),
    "label": _("version"),
    "message": _("message"),
    "model": _("record type"),
    "next_retry_at": _("next try at"),
    "next_term": _("next term"),
    "note": _("note"),
    "opened_for": _("opened for"),
    "paid_by": _("bank reference of the payment"),
    "past_due": _("past due"),
    "path": _("page"),
    "policy": _("Privacy Policy version"),
    "prefix": _("key prefix"),
    "previous": _("previous rate"),
    "profile": _("customer details anonymised"),
    "published": _("published by the bank"),
    "reference": _("bank reference"),
    "refund_key": _("refund key"),
    "refunded": _("refunded in total"),
    "requested_date": _("date asked for"),
    "reused_pdf": _("PDF reused"),
    "rows": _("records moved"),
    "severity": _("severity"),
    "since": _("since when"),
    "template": _("e-mail"),
    "term_end": _("term ends"),
    "term_start": _("term starts"),
    "transferred": _("passed to third parties"),
    "transferred_at": _("sent by the bank at"),
    "try": _("try"),
    "why": _("why"),
}


def _detail_label(key: str) -> str:
    from soldee.field_labels import FIELD_LABELS

    key = key.removesuffix("_minor")  # money in tiyn/cents, shown as money
    if key in EVENT_DATA_LABELS:
        return str(EVENT_DATA_LABELS[key])
    if key in FIELD_LABELS:
        return str(FIELD_LABELS[key])
    return key.replace("_", " ")


def _currency_of(subject) -> str | None:
    """The currency of a timeline subject's money: its own (a payment, a refund), else its
    payment's (a refund request); None when it has none (tenge is shown)."""
    currency = getattr(subject, "currency", None)
    if not currency and (payment := getattr(subject, "payment", None)) is not None:
        currency = getattr(payment, "currency", None)
    return currency or None


def _documents_shown(value, subject) -> str | None:
    """The documents an event names by version ("2025-11-01", or {kind: [version, sha]}) by
    their names and versions ("Public Offer, version 2025-11-01"): the kinds from the
    payment's pinned documents when the data lists versions only. None: shown as stored."""
    from offer.models import LegalDocument

    if isinstance(value, dict):
        pins = [(kind, item[0] if isinstance(item, (list, tuple)) and item else item) for kind, item in value.items()]
    elif isinstance(value, list) and isinstance(getattr(subject, "pinned_documents", None), list):
        pinned = [(p.get("kind"), p.get("label")) for p in subject.pinned_documents if isinstance(p, dict)]
        if [label for _kind, label in pinned] != value:
            return None
        pins = pinned
    else:
        return None
    names = dict(LegalDocument.Kind.choices)
    if not pins or any(kind not in names for kind, _label in pins):
        return None
    return ", ".join(str(_("%(document)s, version %(label)s") % {"document": names[kind], "label": label})
                     for kind, label in pins)


def timeline_html(*subjects):
    """The events of a request's payment, term, grant, reports and refund, in Almaty time,
    each in words as staff read them (soldee.event_texts.staff_text), with its details:
    labelled in the staff member's language, yes/no for a flag, a list's items joined."""
    from soldee.event_texts import staff_value, staff_verb

    rows = selectors.events_for(*subjects)
    if not rows:
        return "—"
    # Money in an event's data is in its subject's currency (a refund's, its payment's): events
    # recorded before the data named the currency showed a euro refund in tenge.
    by_key = {(s._meta.label_lower, str(s.pk)): s for s in subjects if s is not None}
    currencies = {key: _currency_of(s) for key, s in by_key.items()}

    def shown(value, key="", subject_type=""):
        if (coded := staff_value(key, value, subject_type)) is not None:  # "no_access": the ground in words
            return str(coded)
        if isinstance(value, bool):
            return str(pgettext_lazy("event detail", "yes") if value else pgettext_lazy("event detail", "no"))
        if value is None:
            return "—"
        if isinstance(value, (list, tuple)):
            return ", ".join(shown(item) for item in value) or "—"
        if isinstance(value, dict):
            return ", ".join(f"{_detail_label(k)}: {shown(v, k, subject_type)}" for k, v in value.items()) or "—"
        if isinstance(value, float):
            return formats.number_format(value, decimal_pos=0 if value == int(value) else 1)
        try:
            moment = parse_datetime(value) if isinstance(value, str) and "T" in value else None
        except ValueError:  # looks like a date, is not one (30 February): shown as typed
            moment = None
        if moment is not None and timezone.is_aware(moment):  # stored as ISO UTC: shown in Almaty time
            return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
        return str(value)

    def details(event) -> str:
        data = event.data or {}

        def value_of(key, value):
            if key.endswith("_minor") and isinstance(value, int):  # money in tiyn/cents: as money
                currency = data.get("currency") or currencies.get((event.subject_type, event.subject_id))
                return format_money(value, currency or "KZT")
            subject = by_key.get((event.subject_type, event.subject_id))
            if key == "term" and event.subject_type == "subscriptions.accessgrant" and isinstance(value, int) \
                    and getattr(subject, "term_id", None) == value:
                # access.granted records the term's row id; staff read terms by number (term.started).
                return str(subject.term.number)
            if key == "documents" and (named := _documents_shown(value, subject)) is not None:
                return named
            return shown(value, key, event.subject_type)

        return "; ".join(f"{_detail_label(key)}: {value_of(key, value)}" for key, value in data.items())

    # The event in words, its code beside it (staff search the event log by it).
    return format_html("<ul>{}</ul>", format_html_join(
        "", '<li>{} · <strong title="{}">{}</strong> <span class="quiet">({})</span> · {}<br><small>{}</small></li>',
        ((formats.date_format(timezone.localtime(e.created_at), "DATETIME_FORMAT"),
          e.verb, staff_verb(e.verb, e.data), e.verb, e.actor or e.get_actor_kind_display(), details(e))
         for e in rows)))


@admin.register(CalendarException)
class CalendarExceptionAdmin(ModelNamesAdminMixin, admin.ModelAdmin):
    list_display = ("date", "kind", "note", "updated_at")
    list_filter = ("kind",)
    date_hierarchy = "date"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._say_moved(request, services.calendar_exception_changed(exception=obj, by=request.user))

    def delete_model(self, request, obj):
        pk = obj.pk
        super().delete_model(request, obj)
        obj.pk = pk
        self._say_moved(request, services.calendar_exception_changed(exception=obj, by=request.user, removed=True))

    def _say_moved(self, request, moved: int) -> None:
        if moved:  # in the staff member's language, on a removal too (found by the staff explorer)
            self.message_user(request, ngettext(
                "%(count)d running error-report deadline moved.",
                "%(count)d running error-report deadlines moved.",
                moved) % {"count": moved}, level=messages.WARNING)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class MissedDeadlineFilter(admin.SimpleListFilter):
    title = _("missed deadline")
    parameter_name = "missed"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        from django.db.models import F, Q

        # ErrorReport.missed_deadline as a query: confirmed, and resolved late or not by now.
        missed = Q(confirmed_at__isnull=False) & (Q(resolved_at__gt=F("deadline_at"))
                                                  | Q(resolved_at__isnull=True, deadline_at__lt=timezone.now()))
        return {"yes": lambda: queryset.filter(missed),
                "no": lambda: queryset.exclude(missed)}.get(self.value(), lambda: queryset)()


@admin.register(ErrorReport)
class ErrorReportAdmin(ModelNamesAdminMixin, StaffActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "reported_at", "severity", "status", "deadline_at", "resolved_at", "overdue")
    list_filter = ("status", "severity", MissedDeadlineFilter)
    search_fields = ("customer__email", "what_fails")
    list_select_related = ("customer",)
    date_hierarchy = "reported_at"
    readonly_fields = ("customer", "status", "severity", "what_fails", "since", "attachment_link", "reported_at",
                       "deadline_at", "confirmed_at", "triage_reason", "triaged_at", "triaged_by",
                       "resolved_at", "resolution_note", "resolved_by", "timeline")
    fields = readonly_fields
    actions = ["confirm_critical", "mark_not_critical", "mark_resolved"]

    @admin.display(boolean=True, description=_("missed deadline"))
    def overdue(self, obj):
        return obj.missed_deadline

    @admin.display(description=_("attachment"))
    def attachment_link(self, obj):
        if not obj.attachment:
            return "—"
        url = reverse("admin:refunds_errorreport_attachment", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.attachment_name or "attachment")

    @admin.display(description=_("timeline"))
    def timeline(self, obj):
        return timeline_html(obj)

    def get_urls(self):
        return [path("<int:pk>/attachment/", self.admin_site.admin_view(self.attachment_view),
                     name="refunds_errorreport_attachment"), *super().get_urls()]

    def attachment_view(self, request, pk):
        report = ErrorReport.objects.filter(pk=pk).first()
        if report is None or not self.has_view_permission(request, report):
            raise Http404
        return attachments.response(report)

    @admin.action(description=_("Confirm as critical (with a reason)"), permissions=["decide"])
    def confirm_critical(self, request, queryset):
        return self._form_action(
            request, queryset, form_class=ReasonForm, title=_("Confirm as critical"),
            apply=lambda r, data: services.error_report_triage(
                report_id=r.pk, by=request.user, critical=True, reason=data["reason"]).get_status_display())

    @admin.action(description=_("Not critical (with a reason)"), permissions=["decide"])
    def mark_not_critical(self, request, queryset):
        return self._form_action(
            request, queryset, form_class=ReasonForm, title=_("Not a critical error"),
            apply=lambda r, data: services.error_report_triage(
                report_id=r.pk, by=request.user, critical=False, reason=data["reason"]).get_status_display())

    @admin.action(description=_("Mark resolved (with a note)"), permissions=["decide"])
    def mark_resolved(self, request, queryset):
        return self._form_action(
            request, queryset, form_class=ReasonForm, title=_("Mark resolved"),
            apply=lambda r, data: services.error_report_resolve(
                report_id=r.pk, by=request.user, note=data["reason"]).get_status_display())


class RefundInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = Refund
    fields = ("amount_minor", "currency", "is_full", "status", "idempotency_key", "gateway_ref", "attempts",
              "last_error", "approved_by", "created_at", "succeeded_at")
    readonly_fields = fields
    extra = 0


@admin.register(RefundRequest)
class RefundRequestAdmin(ModelNamesAdminMixin, StaffActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "payment_amount", "ground", "eligible", "status", "refund_status", "created_at")
    list_filter = ("status", "ground", "eligible")
    search_fields = ("customer__email", "payment__public_id")
    list_select_related = ("customer", "payment", "refund")
    readonly_fields = ("customer", "payment_link", "ground", "explanation", "status", "eligible", "recommendation",
                       "evaluated_at", "current_evaluation", "created_at", "decided_at", "decided_by",
                       "decision_reason", "timeline")
    fields = readonly_fields
    inlines = [RefundInline]
    actions = ["approve", "reject", "reevaluate"]

    @admin.display(description=_("amount paid"))
    def payment_amount(self, obj):
        return obj.payment.amount_display

    @admin.display(description=_("refund"))
    def refund_status(self, obj):
        refund = getattr(obj, "refund", None)
        return f"{refund.amount_display} {refund.get_status_display()}" if refund else "—"

    @admin.display(description=_("payment"))
    def payment_link(self, obj):
        p = obj.payment
        return format_html("{} · {} · {} {} · {} {} · {}", p.public_id, p.amount_display, _("paid"),
                           formats.date_format(timezone.localtime(p.paid_at), "DATETIME_FORMAT") if p.paid_at else "—",
                           _("refunded"), p.refunded_display, p.get_status_display())

    @staticmethod
    def _evaluation_html(ev: dict):
        return format_html(
            "<p><strong>{}</strong></p><ul>{}</ul><p>{}</p><ul>{}</ul>",
            _("Eligible by records") if ev.get("eligible") else _("Not eligible by records"),
            format_html_join("", "<li>{}</li>", ((r,) for r in ev.get("reasons", []))),
            _("Evidence:"),
            format_html_join("", "<li>{}</li>", ((e,) for e in ev.get("evidence", []))),
        )

    @admin.display(description=_("recommendation (stored)"))
    def recommendation(self, obj):
        return self._evaluation_html(obj.evaluation or {})

    @admin.display(description=_("evaluation from records now"))
    def current_evaluation(self, obj):
        return self._evaluation_html(selectors.evaluate(payment=obj.payment, ground=obj.ground,
                                                        asked_at=obj.created_at).as_dict())

    @admin.display(description=_("timeline"))
    def timeline(self, obj):
        payment = obj.payment
        term = getattr(payment, "term", None)
        grant = getattr(term, "access_grant", None) if term else None
        reports = list(selectors.term_error_reports(payment, term))
        return timeline_html(payment, term, grant, *reports, obj, getattr(obj, "refund", None))

    @admin.action(description=_("Approve (full, or a partial amount)"), permissions=["decide"])
    def approve(self, request, queryset):
        def apply(req, data):
            amount = None
            if data["amount"] is not None:
                if queryset.count() > 1:
                    raise ValueError(_("A partial amount can be given for one request at a time."))
                amount = to_minor(data["amount"], req.payment.currency)
            refund = services.refund_request_approve(request_id=req.pk, by=request.user, amount_minor=amount,
                                                     note=data["reason"] or "")
            if refund.status == refund.Status.AWAITING_TRANSFER:  # nothing is sent: accounting pays it back
                return _("approved, %(amount)s to be paid back by bank transfer: record the transfer when it is "
                         "made") % {"amount": refund.amount_display}
            return _("approved, refund of %(amount)s queued") % {"amount": refund.amount_display}
        return self._form_action(request, queryset, form_class=ApproveForm, title=_("Approve refund"), apply=apply,
                                 describe=selectors.approval_summary)

    @admin.action(description=_("Reject (with a reason)"), permissions=["decide"])
    def reject(self, request, queryset):
        return self._form_action(
            request, queryset, form_class=ReasonForm, title=_("Reject refund request"),
            apply=lambda req, data: services.refund_request_reject(
                request_id=req.pk, by=request.user, reason=data["reason"]).get_status_display())

    @admin.action(description=_("Re-evaluate from records"), permissions=["decide"])
    def reevaluate(self, request, queryset):
        for req in queryset:
            services.refund_request_reevaluate(request_id=req.pk)
        self.message_user(request, _("Re-evaluated."))


@admin.register(Refund)
class RefundAdmin(ModelNamesAdminMixin, StaffActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "request_number", "customer", "amount_display", "full", "status", "attempts",
                    "answer_lost", "created_at", "succeeded_at")

    @admin.display(description=_("refund request"), ordering="request_id")
    def request_number(self, obj):
        """The number the customer's e-mails give the case ("refund #2" is the request's)."""
        return f"#{obj.request_id}"

    @admin.display(boolean=True, description=_("full refund"), ordering="is_full")
    def full(self, obj):
        return obj.is_full
    list_filter = ("status", "is_full", "answer_lost")
    search_fields = ("customer__email", "idempotency_key", "gateway_ref")
    list_select_related = ("customer",)
    readonly_fields = ("request", "payment", "customer", "amount_minor", "currency", "is_full", "status",
                       "idempotency_key", "gateway_ref", "attempts", "last_error", "answer_lost", "approved_by",
                       "created_at", "succeeded_at", "recorded_at", "timeline")
    fields = readonly_fields
    actions = ["retry", "pay_by_bank_transfer", "record_bank_transfer"]

    @admin.display(description=_("timeline"))
    def timeline(self, obj):
        return timeline_html(obj)

    @admin.action(description=_("Refused by the gateway for good: pay back by bank transfer instead"),
                  permissions=["decide"])
    def pay_by_bank_transfer(self, request, queryset):
        return self._form_action(
            request, queryset, form_class=CardRefusedForm, title=_("Pay the refund back by bank transfer"),
            apply=lambda refund, data: services.refund_pay_by_bank_transfer(
                refund_id=refund.pk, by=request.user, reason=data["reason"],
                checked_at_gateway=data["checked_at_gateway"]).get_status_display(),
            describe=lambda refund: _("%(amount)s: the customer is asked by e-mail for a bank account; accounting "
                                      "pays it there and records the transfer here.") % {
                "amount": refund.amount_display})

    @admin.action(description=_("Record the bank transfer (paid back by accounting)"), permissions=["decide"])
    def record_bank_transfer(self, request, queryset):
        if queryset.count() != 1:  # one bank reference is one transfer: one refund
            self.message_user(request, _("Select exactly one refund: a bank reference belongs to one transfer."),
                              level=messages.ERROR)
            return None

        def apply(refund, data):
            return services.refund_record_bank_transfer(
                refund_id=refund.pk, reference=data["reference"], by=request.user,
                transferred_at=data["transferred_at"]).get_status_display()

        return self._form_action(request, queryset, form_class=BankTransferForm,
                                 title=_("Record the bank transfer of the refund"), apply=apply)

    @admin.action(description=_("Retry sending to the payment gateway"), permissions=["decide"])
    def retry(self, request, queryset):
        for refund in queryset:
            try:
                done = services.refund_execute(refund_id=refund.pk, by=request.user, retry_failed=True)
            except (GatewayError, services.RefundError) as exc:
                self.message_user(request, f"{refund.number_display}: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, f"{refund.number_display}: {done.get_status_display()}")
