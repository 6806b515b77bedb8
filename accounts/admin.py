from allauth.account import admin as allauth_account_admin
from allauth.account.models import EmailAddress
from allauth.mfa import admin as allauth_mfa_admin
from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from soldee.admin import (
    ModelNamesAdminMixin,
    ReadOnlyAdminMixin,
    StaffViewAuditMixin,
    confirmation_page,
    form_changes,
)

from . import personal_data
from .forms import CustomerProfileForm
from .models import AccountDeletionRequest, CustomerProfile, DataExport, PersonalDataConsent, User
from .views import admin_login

# The admin has no login form of its own: allauth's page (rate limits, two-factor step).
admin.site.login = admin_login


# Django names the built-in permissions in English when it creates them ("Can add payment",
# django.contrib.auth.management: "Can %s %s" % (action, verbose_name_raw)) and shows that
# stored name in every language. The picker says them again from the codename and the model's
# translated name; a permission of another kind shows its stored name (translated if it is a
# msgid of ours).
PERMISSION_ACTIONS = {
    "add": _("Can add %(name)s"),
    "change": _("Can change %(name)s"),
    "delete": _("Can delete %(name)s"),
    "view": _("Can view %(name)s"),
}


def permission_label(permission) -> str:
    """ "Биллинг | платёж | Добавление: платёж": the content type as Django shows it, then
    the permission in the staff member's language."""
    model = permission.content_type.model_class()
    action, _sep, model_name = permission.codename.partition("_")
    if model is not None and action in PERMISSION_ACTIONS and model_name == model._meta.model_name:
        name = str(PERMISSION_ACTIONS[action]) % {"name": model._meta.verbose_name}
    else:
        name = gettext(permission.name)
    return f"{permission.content_type} | {name}"


class PermissionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return permission_label(obj)


class TranslatedPermissionsMixin:
    """The permission pickers (a group's "permissions", a user's "user_permissions") in the
    staff member's language; read-only (a staff member who is not a superuser looks), the
    same names, one a line (Django's read-only field joins the stored English names)."""

    READ_ONLY_PERMISSIONS = {"permissions": "group_permission_names", "user_permissions": "user_permission_names"}

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.name in self.READ_ONLY_PERMISSIONS:
            kwargs["form_class"] = PermissionChoiceField
            kwargs.setdefault("queryset", db_field.remote_field.model.objects.select_related("content_type"))
        return super().formfield_for_manytomany(db_field, request=request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.READ_ONLY_PERMISSIONS.values()]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        read_only = set(self.get_readonly_fields(request, obj))
        if self.has_change_permission(request, obj) and not read_only & set(self.READ_ONLY_PERMISSIONS):
            return fieldsets
        return [(name, {**options, "fields": [self.READ_ONLY_PERMISSIONS.get(f, f) if isinstance(f, str) else f
                                              for f in options["fields"]]})
                for name, options in fieldsets]

    @staticmethod
    def _names(permissions):
        rows = permissions.select_related("content_type").order_by("content_type__app_label",
                                                                   "content_type__model", "codename")
        return format_html_join(mark_safe("<br>"), "{}", ((permission_label(p),) for p in rows)) or None

    @admin.display(description=_("permissions"))
    def group_permission_names(self, obj):
        return self._names(obj.permissions)

    @admin.display(description=_("user permissions"))
    def user_permission_names(self, obj):
        return self._names(obj.user_permissions)


class SuperuserGroupAdmin(TranslatedPermissionsMixin, ModelNamesAdminMixin, GroupAdmin):
    """Groups carry permissions: changing them is a superuser's, as a user's own privileges
    are (found by the review: "change group" let a staff member tick every permission on a
    group of their own). Others may look."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.unregister(Group)
admin.site.register(Group, SuperuserGroupAdmin)


# allauth's admins (registered by allauth, named through soldee.field_labels'
# VENDOR_MODEL_NAMES) say Django's messages and name their models as the project's do.
class EmailAddressAdmin(ModelNamesAdminMixin, allauth_account_admin.EmailAddressAdmin):
    pass


class AuthenticatorAdmin(ModelNamesAdminMixin, allauth_mfa_admin.AuthenticatorAdmin):
    pass


for _model, _model_admin in ((EmailAddress, EmailAddressAdmin), (Authenticator, AuthenticatorAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, _model_admin)


@admin.register(User)
class UserAdmin(TranslatedPermissionsMixin, ModelNamesAdminMixin, StaffViewAuditMixin, BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "is_staff", "is_active", "date_joined", "language")
    search_fields = ("email", "profile__name", "profile__iin_bin")
    fieldsets = (
        (None, {"fields": ("email", "password", "public_id", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("public_id",)
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["evidence_bundle"]

    def has_delete_permission(self, request, obj=None):
        # Payments, agreements and the event log point at users: deactivate a staff account
        # (untick "active"); a customer's data is anonymised through a deletion request.
        return False

    # Who may do what is a superuser's to change: with "change user" alone, a staff member
    # could tick superuser for themself (found by the security review).
    PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

    def has_change_permission(self, request, obj=None):
        # Another staff account (its password included) is changed by a superuser only: else
        # "change user" would reset a superuser's password and log in as them.
        if obj is not None and obj.is_staff and obj.pk != request.user.pk and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.extend(self.PRIVILEGE_FIELDS)
        if obj is not None and not obj.is_staff:
            # A customer's login is closed by a deletion request (cards erased, keys revoked,
            # renewals stopped), never by unticking "active": their card would go on renewing
            # while they could no longer log in to turn renewal off.
            fields.append("is_active")
        return fields

    def has_evidence_permission(self, request):
        return request.user.has_perm("accounts.view_user") and request.user.has_perm("soldee.view_event")

    @admin.action(description=_("Evidence bundle (ZIP): everything kept about the customer, for a dispute"),
                  permissions=["evidence"])
    def evidence_bundle(self, request, queryset):
        """Clause 10: the customer's records as their own data export has them — payments,
        acceptances with the accepted documents' hashes, the event log, documents and their
        PDFs — for staff, also after the account was deleted. Logged."""
        import tempfile

        from django.db import transaction
        from django.http import FileResponse

        from soldee import events
        from soldee.models import Event

        from . import evidence, tasks
        from .export import write_archive

        if queryset.count() != 1:
            self.message_user(request, _("Select one customer: a bundle is one customer's records."),
                              messages.ERROR)
            return None
        customer = queryset.get()
        # Every acceptance's agreement PDF and every receipt's, as the customer gets them:
        # what is not rendered yet is rendered by a task (WeasyPrint is slow), which e-mails
        # the staff member when it is done; they may download the bundle without it meanwhile.
        missing = evidence.missing_pdfs(customer)
        if missing and request.POST.get("confirmed") != "yes":
            if missing.renderable:
                staff_id = request.user.pk
                transaction.on_commit(lambda: tasks.evidence_pdfs_render.delay(customer.pk, staff_id),
                                      robust=True)
                warning = ngettext(
                    "%(count)d PDF of this bundle is not rendered yet (listed below). It is being rendered "
                    "in the background, as the customer's own copy; you will get an e-mail when it is ready: "
                    "then export the bundle again for a complete one. \"Yes, I am sure\" downloads the "
                    "bundle now without it (its README lists what is missing).",
                    "%(count)d PDFs of this bundle are not rendered yet (listed below). They are being "
                    "rendered in the background, as the customer's own copies; you will get an e-mail when "
                    "they are ready: then export the bundle again for a complete one. \"Yes, I am sure\" "
                    "downloads the bundle now without them (its README lists what is missing).",
                    missing.renderable) % {"count": missing.renderable}
            else:
                warning = _("Some payments have no receipt record, so the bundle cannot include their "
                            "receipts (listed below). \"Yes, I am sure\" downloads the bundle without "
                            "them (its README lists what is missing).")
            return confirmation_page(self, request, queryset,
                                     title=_("The evidence bundle lacks PDFs"), warning=warning,
                                     describe=lambda obj: "; ".join(missing.lines()))
        events.record(verb="evidence.exported", subject=customer, customer=customer, actor=request.user,
                      actor_kind=Event.ActorKind.STAFF, data={"path": request.path})
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        write_archive(customer, spool, exported_by=request.user, missing=missing.lines())
        spool.seek(0)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return FileResponse(spool, as_attachment=True, content_type="application/zip",
                            filename=f"soldee-evidence-{customer.public_id}-{stamp}.zip")


class CustomerProfileAdminForm(CustomerProfileForm):
    """The customer's own checks (residency, country code, a currency that is offered,
    IIN/BIN): a value staff type that the customer's form refuses would stall renewals."""

    class Meta(CustomerProfileForm.Meta):
        fields = ["user", *CustomerProfileForm.Meta.fields]
        widgets = {**CustomerProfileForm.Meta.widgets, "kind": forms.Select}


@admin.register(CustomerProfile)
class CustomerProfileAdmin(ModelNamesAdminMixin, StaffViewAuditMixin, admin.ModelAdmin):
    audit_customer_field = "user"
    form = CustomerProfileAdminForm
    list_display = ("name", "kind", "iin_bin", "user", "is_resident", "country")
    list_filter = ("kind", "is_resident")
    search_fields = ("name", "iin_bin", "user__email")

    def has_delete_permission(self, request, obj=None):
        # The profile says how the customer pays (residency, currency) and who signs: without
        # it a non-resident would be charged in tenge. Personal data goes by anonymisation.
        return False

    def get_readonly_fields(self, request, obj=None):
        # Whose profile it is never changes: moving it to another account would leave the
        # customer without one and file their history under someone else.
        return ("user",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        """A change by staff is on the customer's record (old and new values of how they pay;
        personal data by field name only) and in their account history ("our staff changed
        your details")."""
        from soldee import events
        from soldee.models import Event

        super().save_model(request, obj, form, change)
        # Values of the fields that say how the customer pays; personal data by name only.
        changes = form_changes(form, change, names_only=[
            f for f in form.fields if f not in ("kind", "is_resident", "country", "payment_currency", "user")])
        if changes or not change:
            events.record(verb="profile.changed_by_staff", subject=obj, customer=obj.user, actor=request.user,
                          actor_kind=Event.ActorKind.STAFF, data={"changes": changes})


@admin.register(PersonalDataConsent)
class PersonalDataConsentAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "policy", "given_at", "ip_address", "withdrawn_at")
    search_fields = ("user__email",)


class ExportBuildFilter(admin.SimpleListFilter):
    """Exports not built: the sweep re-sends their build up to RENDER_MAX_ATTEMPTS times
    (accounts.tasks.data_export_sweep), then leaves them here for staff; so does a build
    that failed with an error not tried again (marked failed at once)."""

    title = _("Build")
    parameter_name = "build"

    def lookups(self, request, model_admin):
        return [("given_up", _("Not built: failed, or attempts used up"))]

    def queryset(self, request, queryset):
        from soldee.tasks import RENDER_MAX_ATTEMPTS

        if self.value() == "given_up":
            return queryset.filter(Q(status=DataExport.Status.FAILED) | Q(
                status__in=[DataExport.Status.REQUESTED, DataExport.Status.BUILDING],
                build_attempts__gte=RENDER_MAX_ATTEMPTS))
        return queryset


@admin.register(DataExport)
class DataExportAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Status only: the archive itself is for its owner (no file link here)."""

    list_display = ("customer", "status_and_attempts", "requested_at", "ready_at", "expires_at", "size_bytes")
    list_filter = ("status", ExportBuildFilter)
    search_fields = ("customer__email",)
    exclude = ("file",)
    actions = ["build_again"]

    @admin.display(description=_("status"), ordering="status")
    def status_and_attempts(self, obj):
        """The status; for one not built (yet), its build attempts and the last error."""
        if not (obj.is_pending or obj.status == DataExport.Status.FAILED) or not obj.build_attempts:
            return obj.get_status_display()
        return format_html('{} <span title="{}">{}</span>', obj.get_status_display(), obj.error,
                           ngettext("not built: %(count)s attempt", "not built: %(count)s attempts",
                                    obj.build_attempts) % {"count": obj.build_attempts})

    def has_build_permission(self, request):
        # Building a customer's archive again changes nothing they see but its arrival; it
        # needs the change permission all the same (the rows are read-only here).
        return request.user.has_perm("accounts.change_dataexport")

    @admin.action(description=_("Build again"), permissions=["build"])
    def build_again(self, request, queryset):
        # The ids first: the list's own filter (status "Failed", say) would drop them once moved.
        selected = list(queryset.order_by("pk").values_list("pk", flat=True))
        result = personal_data.exports_build_again(export_ids=selected, by=request.user)
        pending, building = result["queued"], len(result["building"])
        if result["superseded"]:
            self.message_user(request, ngettext(
                "Not built: %(count)s export whose customer has asked for a newer one since.",
                "Not built: %(count)s exports whose customers have asked for a newer one since.",
                len(result["superseded"])) % {"count": len(result["superseded"])}, level=messages.WARNING)
        if pending:
            self.message_user(request, ngettext("Queued for building: %(count)s export.",
                                                "Queued for building: %(count)s exports.", len(pending))
                              % {"count": len(pending)})
        if building:
            self.message_user(request, ngettext(
                "Still being built: %(count)s export (its build started less than %(minutes)s minutes ago); "
                "nothing was queued for it. Look again later.",
                "Still being built: %(count)s exports (their builds started less than %(minutes)s minutes ago); "
                "nothing was queued for them. Look again later.", building) % {
                "count": building, "minutes": int(personal_data.EXPORT_STALE_AFTER.total_seconds() // 60)},
                level=messages.WARNING)
        if not pending and not building and not result["superseded"]:
            self.message_user(request, _("The selected exports are not waiting to be built: nothing was queued."),
                              level=messages.WARNING)


class RejectForm(forms.Form):
    note = forms.CharField(label=_("Reason shown to the customer"), widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(AccountDeletionRequest)
class AccountDeletionRequestAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("customer", "status", "requested_at", "decided_at", "decided_by")
    list_filter = ("status",)
    search_fields = ("customer__email",)
    actions = ["confirm_deletion", "reject_deletion"]

    def has_decide_permission(self, request):
        return request.user.has_perm("accounts.change_accountdeletionrequest")

    @admin.action(description=_("Confirm: anonymise the customer's personal data"),
                  permissions=["decide"])
    def confirm_deletion(self, request, queryset):
        page = confirmation_page(self, request, queryset, title=_("Anonymise these accounts?"), warning=_(
            "Names, IIN/BIN, addresses, phones, e-mail addresses and saved cards are erased and the login "
            "is closed. This cannot be undone. Payments, agreements and documents are kept."))
        if page is not None:
            return page
        done = 0
        for deletion in queryset:
            try:
                personal_data.deletion_confirm(request_id=deletion.pk, by=request.user)
            except personal_data.PersonalDataRefused as exc:
                self.message_user(request, f"#{deletion.pk}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("%(n)d account(s) anonymised.") % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Reject the request (tell the customer why)"), permissions=["decide"])
    def reject_deletion(self, request, queryset):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for deletion in queryset:
                try:
                    personal_data.deletion_reject(request_id=deletion.pk, by=request.user,
                                                  note=form.cleaned_data["note"])
                except personal_data.PersonalDataRefused as exc:
                    self.message_user(request, f"#{deletion.pk}: {exc}", messages.ERROR)
                else:
                    done += 1
            if done:
                self.message_user(request, ngettext(
                    "%(n)d request rejected; the customer is e-mailed the reason.",
                    "%(n)d requests rejected; the customers are e-mailed the reason.", done) % {"n": done},
                    messages.SUCCESS)
            return None
        return render(request, "accounts/admin/deletion_reject.html", {
            **self.admin_site.each_context(request), "title": _("Reject account deletion"),
            "form": form, "queryset": queryset, "opts": self.model._meta,
            "action": "reject_deletion",
        })
