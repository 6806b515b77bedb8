from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import personal_data, services
from .forms import ConsentForm, CustomerProfileForm, DeletionRequestForm
from .models import AccountDeletionRequest, CustomerProfile, DataExport


@login_required
def profile(request):
    instance = CustomerProfile.objects.filter(user=request.user).first()
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    form = CustomerProfileForm(request.POST or None, instance=instance)
    if request.method == "POST":
        if form.is_valid():
            services.profile_save(form=form, user=request.user)
            messages.success(request, _("Your details are saved."))
            return redirect(next_url or "subscriptions:account")
        messages.error(request, _("Please correct the errors below."))
    return render(request, "accounts/profile.html", {"form": form, "next": next_url,
                                                     "is_new": instance is None})


# --- Personal data (RK Law on Personal Data; docs/personal-data.md) -------------------

def _privacy_page(request, deletion_form=None):
    user = request.user
    return render(request, "accounts/privacy.html", {
        "exports": DataExport.objects.filter(customer=user)[:5],
        "consents": user.consents.select_related("policy"),
        "consent_withdrawn": personal_data.consent_withdrawn(user),
        # what withdrawing consent would turn off, said before the customer does it
        "renewing": personal_data.renewal_to_stop(user),
        "now": timezone.now(),
        "deletion": AccountDeletionRequest.objects.filter(customer=user).first(),
        "deletion_form": deletion_form or DeletionRequestForm(),
        "export_ttl_days": settings.DATA_EXPORT_TTL_DAYS,
    })


@login_required
def privacy(request):
    return _privacy_page(request)


@login_required
@require_POST
def data_export_request(request):
    export = personal_data.data_export_request(customer=request.user)
    messages.success(request, _("We are preparing your data. This page updates by itself."))
    return redirect("accounts:data_export_detail", public_id=export.public_id)


@login_required
def data_export_detail(request, public_id):
    export = get_object_or_404(DataExport, public_id=public_id, customer=request.user)
    response = render(request, "accounts/data_export.html", {"export": export})
    if export.is_pending:
        # Re-poll without any script (CSP-safe); browsers honour the Refresh header.
        response["Refresh"] = "5"
    return response


@login_required
def data_export_download(request, public_id):
    export = get_object_or_404(DataExport, public_id=public_id, customer=request.user)
    if not export.is_downloadable or not default_storage.exists(export.file.name):
        raise Http404
    response = FileResponse(default_storage.open(export.file.name, "rb"), as_attachment=True,
                            filename=f"soldee-data-{timezone.localtime(export.ready_at):%Y-%m-%d}.zip",  # Almaty date
                            content_type="application/zip")
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def consent(request):
    form = ConsentForm(request.POST)
    if form.is_valid():
        if form.cleaned_data["action"] == "withdraw":
            renewing = personal_data.renewal_to_stop(request.user) is not None
            try:
                withdrawn = personal_data.consent_withdraw(user=request.user)
            except personal_data.PersonalDataRefused as exc:
                messages.error(request, str(exc))
                return redirect("accounts:privacy")
            if not withdrawn and not personal_data.consent_withdrawn(request.user):
                # No consent row (an account staff made): nothing was withdrawn, purchases and
                # renewal go on as before (consent_withdraw), so say that, not "withdrawn".
                messages.info(request, _("There is no consent of yours on record to withdraw: nothing has changed."))
                return redirect("accounts:privacy")
            messages.success(request, _(
                "Your consent is withdrawn. You cannot make new purchases until you give it again."))
            if renewing:
                messages.info(request, _("Automatic renewal of your subscription is off: no further payment will be "
                                         "taken. We have e-mailed you the details."))
        else:
            services.consent_record(user=request.user, request=request)
            messages.success(request, _("Thank you: your consent is recorded."))
            if personal_data.renewal_can_go_back_on(request.user):
                # Giving consent again does not turn renewal back on by itself (the customer
                # decides on a new payment): say so, or they would expect it back.
                messages.info(request, _("Automatic renewal of your subscription is still off: you can turn it "
                                         "back on in your personal account."))
    return redirect("accounts:privacy")


@login_required
def deletion_request(request):
    form = DeletionRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            personal_data.deletion_request_create(customer=request.user,
                                                  reason=form.cleaned_data["reason"])
        except personal_data.PersonalDataRefused as exc:
            messages.error(request, str(exc))
            return _privacy_page(request, form)  # what the customer wrote is kept
        messages.success(request, _(
            "Your request is registered. We will e-mail you when your account is deleted."))
        return redirect("accounts:privacy")
    return _privacy_page(request, form)


def admin_login(request, extra_context=None):
    """The admin's own login form is replaced by allauth's: one login page, with its
    rate limits and two-factor step, for customers and staff alike."""
    from django.contrib import admin

    next_url = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("admin:index")
    if request.user.is_authenticated:
        if admin.site.has_permission(request):
            return redirect(next_url)
        # Logged in, but not staff: sending them to the login page would loop.
        raise PermissionDenied(_("This account has no access to the administration."))
    return redirect_to_login(next_url, login_url=reverse("account_login"))


def set_language(request):
    """Django's language switch, and for a logged-in customer the language of their
    e-mails and documents too (it was only the one chosen at sign-up)."""
    from django.conf import settings
    from django.views.i18n import set_language as django_set_language

    response = django_set_language(request)
    language = request.POST.get("language", "")
    if (request.method == "POST" and request.user.is_authenticated
            and language in dict(settings.LANGUAGES) and request.user.language != language):
        request.user.language = language
        request.user.save(update_fields=["language"])
        from .middleware import SESSION_LANGUAGE_KEY

        request.session[SESSION_LANGUAGE_KEY] = language
    return response
