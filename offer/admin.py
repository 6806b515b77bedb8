from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from soldee.admin import (
    ModelNamesAdminMixin,
    ReadOnlyAdminMixin,
    StaffViewAuditMixin,
    confirmation_page,
    money_column,
)
from soldee.tasks import RENDER_STALE_AFTER

from . import agreement_copies, services
from .models import (
    Acceptance,
    AcceptedDocument,
    AgreementCopy,
    AgreementCopyRequest,
    LegalDocument,
)


@admin.register(LegalDocument)
class LegalDocumentAdmin(ModelNamesAdminMixin, admin.ModelAdmin):
    list_display = ("kind", "label", "effective_date", "status", "published_at", "short_hash")
    list_filter = ("kind", "status")
    search_fields = ("label", "title", "body")
    readonly_fields = ("sha256", "status", "published_at")
    actions = ["publish"]

    @admin.display(description="SHA-256")
    def short_hash(self, obj):
        return obj.sha256[:12]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:  # a published version never changes
            return [f.name for f in obj._meta.fields]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return obj is not None and not obj.is_published

    @admin.action(description=_("Publish the selected drafts"), permissions=["change"])
    def publish(self, request, queryset):
        drafts = queryset.filter(status=LegalDocument.Status.DRAFT)
        if not drafts.exists():
            self.message_user(request, _("Nothing to publish: only drafts can be published."), level=messages.ERROR)
            return None
        page = confirmation_page(self, request, drafts, title=_("Publish these versions?"), warning=_(
            "A published version can never be changed or withdrawn: it is the text customers accept from its "
            "effective date. Publishing e-mails every customer with a live subscription about the amendment (for "
            "the Privacy Policy also every former customer whose account is open); a renewal after its effective "
            "date accepts it by continued use (clause 11)."))
        if page is not None:
            return page
        for doc in drafts:
            try:
                services.document_publish(document_id=doc.pk, by=request.user)
                self.message_user(request, _("Published %(document)s.") % {"document": doc})
            except ValueError as exc:
                self.message_user(request, f"{doc}: {exc}", level=messages.ERROR)
        return None


class AcceptedDocumentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AcceptedDocument
    fields = ("kind", "document", "sha256")
    extra = 0


class PaperCopyForm(forms.Form):
    postal_address = forms.CharField(
        label=_("Postal address"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("As the customer gave it in the request. Blank: the address in their profile (a deleted "
                    "account has none: then it is required)."))
    recipient_name = forms.CharField(label=_("Recipient"), required=False, max_length=255)


@admin.register(Acceptance)
class AcceptanceAdmin(ModelNamesAdminMixin, StaffViewAuditMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("accepted_at", "customer", "kind", "plan_code", "price",
                    "payment_reference", "ip_address")
    list_filter = ("kind", "plan_code")
    search_fields = ("customer__email", "payment_reference", "payment__public_id")
    date_hierarchy = "accepted_at"
    inlines = [AcceptedDocumentInline]
    list_select_related = ("customer",)

    price = money_column("price_minor", description=_("price"))
    actions = ["paper_copy_requested"]

    def has_copy_permission(self, request):
        return request.user.has_perm("offer.change_agreementcopyrequest")

    @admin.action(description=_("Paper copy asked for by e-mail or phone (clause 5.4): open the request"),
                  permissions=["copy"])
    def paper_copy_requested(self, request, queryset):
        """Clause 5.4: a paper copy on request to info@soldee.kz. The customer may not use
        the account's button (a deleted account cannot log in): staff open the request,
        which then goes through the print-and-post queue like any other."""
        if queryset.count() != 1:
            self.message_user(request, _("Select one acceptance: each copy goes to the address its customer gave."),
                              level=messages.ERROR)
            return None
        acceptance = queryset.get()
        form = PaperCopyForm(request.POST if "apply" in request.POST else None)
        if not form.is_bound or not form.is_valid():
            return TemplateResponse(request, "refunds/admin/action_form.html", {
                **self.admin_site.each_context(request), "title": _("Paper copy asked for by e-mail or phone"),
                "form": form, "queryset": queryset, "opts": self.model._meta, "rows": [(acceptance, "")],
                "action": request.POST.get("action", ""), "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME})
        try:
            copy_request, created = agreement_copies.request_copy(
                acceptance_id=acceptance.pk, by=request.user, postal_address=form.cleaned_data["postal_address"],
                recipient_name=form.cleaned_data["recipient_name"])
        except agreement_copies.CopyRefused as exc:
            self.message_user(request, f"#{acceptance.pk}: {exc}", level=messages.ERROR)
            return None
        if created:
            self.message_user(request, _("Acceptance #%(id)s: paper copy request #%(request)s opened; see "
                                         "Agreement copies.") % {"id": acceptance.pk, "request": copy_request.pk})
        else:
            self.message_user(request, _("Acceptance #%(id)s: a request is already open (#%(request)s); "
                                         "nothing was added.") % {"id": acceptance.pk, "request": copy_request.pk},
                              level=messages.WARNING)
        return None


# --- Agreement copies: the print-and-post queue (clause 5.4) ---------------------------------

class TrackingForm(forms.Form):
    tracking_number = forms.CharField(label=_("Postal tracking number"), max_length=64)


@admin.register(AgreementCopyRequest)
class AgreementCopyRequestAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Staff print the ready copies and post them; every step goes through
    offer.agreement_copies (which records the event)."""

    list_display = ("requested_at", "customer", "recipient_name", "postal_address", "status",
                    "tracking_number", "ready_at", "printed_at", "posted_at", "pdf")
    list_filter = ("status",)
    search_fields = ("acceptance__customer__email", "recipient_name", "postal_address", "tracking_number")
    date_hierarchy = "requested_at"
    list_select_related = ("acceptance__customer",)
    actions = ["mark_printed", "mark_posted", "render_again"]

    @admin.display(description=_("customer"))
    def customer(self, obj):
        return obj.acceptance.customer

    @admin.display(description="PDF")
    def pdf(self, obj):
        if not obj.copy_id:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("offer:copy_download", args=[obj.acceptance_id]),
                           _("Download"))

    def has_queue_permission(self, request):
        # The rows are read-only in the admin; moving them along the queue needs the
        # model's change permission (the services do the change).
        return request.user.has_perm("offer.change_agreementcopyrequest")

    @admin.action(description=_("Mark printed"), permissions=["queue"])
    def mark_printed(self, request, queryset):
        for obj in queryset:
            if obj.status == obj.Status.PRINTED:  # nothing to do: say so, not "printed" again
                self.message_user(request, _("#%(id)s was already printed.") % {"id": obj.pk}, level=messages.WARNING)
                continue
            try:
                agreement_copies.mark_printed(request_id=obj.pk, by=request.user)
                self.message_user(request, _("#%(id)s: printed.") % {"id": obj.pk})
            except agreement_copies.CopyRefused as exc:
                self.message_user(request, f"#{obj.pk}: {exc}", level=messages.ERROR)

    @admin.action(description=_("Mark posted (asks for the tracking number)"), permissions=["queue"])
    def mark_posted(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select one request: each posting has its own tracking number."),
                              level=messages.ERROR)
            return None
        obj = queryset.get()
        form = TrackingForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                agreement_copies.mark_posted(request_id=obj.pk, by=request.user,
                                             tracking_number=form.cleaned_data["tracking_number"])
                self.message_user(request, _("#%(id)s: posted; the customer is e-mailed the tracking number.")
                                  % {"id": obj.pk})
            except agreement_copies.CopyRefused as exc:
                self.message_user(request, f"#{obj.pk}: {exc}", level=messages.ERROR)
            return None
        return TemplateResponse(request, "offer/admin/tracking_form.html", {
            **self.admin_site.each_context(request),
            "title": _("Mark posted"), "form": form, "obj": obj, "opts": self.model._meta,
            "action": request.POST.get("action", ""), "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })

    @admin.action(description=_("Render again if failed"), permissions=["queue"])
    def render_again(self, request, queryset):
        from . import tasks

        # A render the worker never finished (killed at the time limit, the worker lost) stays
        # "rendering": once it has not moved for as long as the sweep waits, it is as failed
        # (after the sweep's last attempt nothing else sends it again).
        Status = AgreementCopyRequest.Status
        stale = timezone.now() - RENDER_STALE_AFTER
        for obj in queryset.filter(Q(status__in=[Status.REQUESTED, Status.FAILED])
                                   | Q(status=Status.RENDERING, updated_at__lt=stale)):
            tasks.render_agreement_copy.delay(obj.pk)
            self.message_user(request, _("#%(id)s: queued.") % {"id": obj.pk})


@admin.register(AgreementCopy)
class AgreementCopyAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("rendered_at", "acceptance", "sha256", "size_kb", "language")
    search_fields = ("acceptance__customer__email", "sha256")

    @admin.display(description=_("size"), ordering="size")
    def size_kb(self, obj):
        return _("%(kb)s KB") % {"kb": round(obj.size / 1024)} if obj.size else "—"
