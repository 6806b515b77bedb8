import json
import secrets
from urllib.parse import urlencode

from allauth.account.decorators import verified_email_required
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts import auth_backends
from accounts.services import client_ip
from billing import exchange
from billing import services as billing
from billing.gateways import GatewayError
from plans.models import Plan
from soldee import page_versions, pagecache
from soldee.money import format_money

from . import credentials, selectors, services
from .models import AgentPlatformKey, Subscription


class CheckoutForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    documents = forms.CharField(widget=forms.HiddenInput, max_length=200)
    accept = forms.BooleanField(
        required=True,
        label=gettext_lazy(
            "I have read and accept the Public Offer, the Privacy Policy and the Terms of Use "
            "in the versions linked above, and I understand that my payment is my acceptance."
        ),
        error_messages={"required": gettext_lazy("Please confirm that you accept the documents.")},
    )

    def document_ids(self) -> list[int]:
        try:
            return [int(x) for x in self.cleaned_data["documents"].split(",") if x]
        except ValueError:
            return []


@verified_email_required  # clause 5.1: the customer registers (a confirmed address) before paying
def checkout(request, plan_code):
    plan = get_object_or_404(Plan, code=plan_code)
    if not hasattr(request.user, "profile"):
        messages.info(request, _("Before the purchase, please tell us who the customer is."))
        return redirect(reverse("accounts:profile") + "?" + urlencode({"next": request.path}))
    in_force = services.offer_services.documents_in_force()
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            try:
                payment = services.checkout_start(
                    customer=request.user, plan=plan, document_ids=form.document_ids(),
                    token=form.cleaned_data["token"], client_ip=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            except services.CheckoutRefused as exc:
                messages.error(request, str(exc))
                return redirect("subscriptions:checkout", plan_code=plan.code)
            if payment.status != payment.Status.PENDING:  # the same checkout, already decided
                return redirect("billing:return", public_id=payment.public_id)
            try:
                return HttpResponseRedirect(billing.payment_hosted_url(payment=payment))
            except GatewayError:
                messages.error(request, _("The payment service is not answering. Please try again in a minute."))
                return redirect("subscriptions:checkout", plan_code=plan.code)
    else:
        form = CheckoutForm(initial={
            "token": secrets.token_urlsafe(16),
            "documents": ",".join(str(d.pk) for d in in_force.values()),
        })
    live = services.live_subscription(request.user)
    quote, why = exchange.quote_for(customer=request.user, kzt_amount_minor=plan.price_minor)
    charge_display = format_money(quote.amount_minor, quote.currency) if quote else plan.price_display
    return render(request, "subscriptions/checkout.html", {
        "charge_display": charge_display,
        "rate_unavailable": why if quote is None else "",  # Pay stays off: checkout would refuse
        "plan": plan, "form": form, "documents": in_force, "live": live,
        "upcoming": services.offer_services.documents_upcoming(),
        "profile": request.user.profile,
    })


ACCOUNT_PAGE_TTL = 300  # seconds; bounds writes that bump no version (soldee.page_versions)
HISTORY_PAGE_SIZE = 25


def _account_versions(user_id) -> tuple[str, ...]:
    return ("plans", "documents", page_versions.customer_version(user_id))


def _account_page_keys(user_id: str) -> tuple[list[str], tuple[str, ...]]:
    """The cached account page of this user, to fetch with the user (one round trip)."""
    if not pagecache.enabled():
        return [], ()
    versions = _account_versions(user_id)
    return [pagecache.page_key("account", versions)], versions


@never_cache  # personal: no browser or proxy copy (Back shows it fresh; shared computers)
@auth_backends.with_user(_account_page_keys)
@login_required
def account(request):
    overview = {}

    def render_page():
        overview.update(selectors.account_overview(request.user))
        return render(request, "subscriptions/account.html", overview)

    def lifetime() -> int:
        # "Access granted" turns into "closed" (or the next paid term begins) when the term
        # running now ends, with no write.
        running = overview.get("running_term")
        end = running.ends_at if running else getattr(overview.get("subscription"), "current_period_end", None)
        until_end = int((end - timezone.now()).total_seconds()) if end else ACCOUNT_PAGE_TTL
        return min(ACCOUNT_PAGE_TTL, until_end) if until_end > 0 else ACCOUNT_PAGE_TTL

    return pagecache.page(
        request, name="account", render=render_page, timeout=lifetime,
        versions_of=_account_versions(request.user.pk))


def _history_page(request, rows):
    return Paginator(rows, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))


@never_cache  # personal: no browser or proxy copy (Back shows it fresh; shared computers)
@login_required
def payments_all(request):
    page = _history_page(request, selectors.payments_of(request.user))
    return render(request, "subscriptions/payments_all.html", {"page": page, "payments": page.object_list})


@never_cache  # personal: no browser or proxy copy (Back shows it fresh; shared computers)
@login_required
def agreements_all(request):
    page = _history_page(request, selectors.acceptances_of(request.user))
    return render(request, "subscriptions/agreements_all.html", {"page": page, "acceptances": page.object_list})


class RenewalForm(forms.Form):
    on = forms.TypedChoiceField(choices=[("1", "on"), ("0", "off")], coerce=lambda v: v == "1")


@login_required
def renewal(request, subscription_id):
    subscription = get_object_or_404(Subscription, pk=subscription_id, customer=request.user)
    if request.method == "POST":
        form = RenewalForm(request.POST)
        if form.is_valid():
            on = form.cleaned_data["on"]
            try:
                changed = services.subscription_set_auto_renew(subscription_id=subscription.pk, on=on,
                                                               by=request.user)
            except services.CheckoutRefused as exc:
                messages.error(request, str(exc))
            else:
                if on:
                    messages.success(request, _("Automatic renewal is on again."))
                elif not changed.is_live:
                    messages.success(request, _("Automatic renewal is off and the subscription has ended: its paid "
                                                "term was already over. No further payment will be taken."))
                else:
                    messages.success(request, _("Automatic renewal is off. Your access continues until the end of the paid term."))
            return redirect("subscriptions:account")
    if not subscription.is_live:  # an old link or tab: say so, rather than offer a past renewal date
        messages.info(request, _("This subscription has ended; renewal can no longer be changed."))
        return redirect("subscriptions:account")
    want_on = request.GET.get("on") == "1"
    ahead = services.paid_ahead_term(subscription) if want_on else None
    # Back on keeps the paid-ahead term: the customer's open request for its money is withdrawn.
    withdrawn = ahead.payment.refund_requests.filter(status="open", customer=request.user).first() if ahead else None
    return render(request, "subscriptions/renewal_confirm.html",
                  {"subscription": subscription, "want_on": want_on, "request_withdrawn": withdrawn,
                   "term_over": subscription.is_live and subscription.current_period_end <= timezone.now(),
                   # Already charged for a term that has not begun: the customer may have it back (clause 6.4).
                   "paid_ahead": None if want_on or not subscription.is_live else services.paid_ahead_term(subscription)})


def _platform_authorized(request) -> bool:
    """The agent platform's own key: `Authorization: Bearer <key>` (issued in admin)."""
    auth = request.headers.get("Authorization", "")
    raw = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
    return bool(raw) and AgentPlatformKey.objects.filter(key_hash=AgentPlatformKey.hash(raw),
                                                         is_active=True).exists()


@require_GET
def entitlement_api(request, customer_ref):
    """For the AI agent platform: `Authorization: Bearer <key>`."""
    if not _platform_authorized(request):
        return JsonResponse({"error": "invalid API key"}, status=401)
    from django.contrib.auth import get_user_model

    customer = get_user_model().objects.filter(public_id=customer_ref).first()
    if customer is None:
        raise Http404
    return JsonResponse(services.entitlement(customer))


@login_required
def renewal_pay(request, subscription_id):
    """Past due: pay the next term now with another card on the hosted page."""
    from . import renewals

    subscription = get_object_or_404(Subscription, pk=subscription_id, customer=request.user)
    if request.method == "POST":
        form = forms.Form(request.POST)
        token = request.POST.get("token", "")[:64]
        if form.is_valid() and token:
            try:
                payment = renewals.renewal_customer_payment(
                    subscription=subscription, token=token, client_ip=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""))
                return HttpResponseRedirect(billing.payment_hosted_url(payment=payment))
            except services.CheckoutRefused:  # consent withdrawn, deletion requested: back to this
                # page, as checkout does, which says why (once: not as a message as well)
                return redirect("subscriptions:renewal_pay", subscription_id=subscription.pk)
            except (ValueError, exchange.RateUnavailable) as exc:
                messages.error(request, str(exc))
            except GatewayError:
                messages.error(request, _("The payment service is not answering. Please try again in a minute."))
        return redirect("subscriptions:account")
    if subscription.status != Subscription.Status.PAST_DUE:
        messages.info(request, _("This subscription has nothing to pay."))
        return redirect("subscriptions:account")
    from accounts.personal_data import (
        CONSENT_WITHDRAWN_MESSAGE,
        DELETION_PENDING_MESSAGE,
        consent_withdrawn,
        deletion_requested,
    )

    # The submit would be refused (renewals.renewal_customer_payment): say so now, not a form to fill in.
    refusal = (CONSENT_WITHDRAWN_MESSAGE if consent_withdrawn(request.user)
               else DELETION_PENDING_MESSAGE if deletion_requested(request.user) else None)
    if refusal is not None:
        return render(request, "subscriptions/renewal_pay.html",
                      {"subscription": subscription, "refusal": str(refusal)})
    return render(request, "subscriptions/renewal_pay.html",
                  {"subscription": subscription, "token": secrets.token_urlsafe(16)})


@csrf_exempt
@require_POST
def credential_verify_api(request):
    """For the AI agent platform: whose is this customer key, and are they entitled now?
    `Authorization: Bearer <platform key>`, JSON body `{"key": "sk_cust_…"}`. A revoked or
    unknown key is 404: the platform must refuse it (clause 8)."""
    if not _platform_authorized(request):
        return JsonResponse({"error": "invalid API key"}, status=401)
    try:
        raw = json.loads(request.body or b"{}").get("key", "")
    except (ValueError, AttributeError):
        return JsonResponse({"error": "the body must be JSON: {\"key\": \"…\"}"}, status=400)
    credential = credentials.credential_owner(raw if isinstance(raw, str) else "")
    if credential is None:
        return JsonResponse({"error": "unknown or revoked key"}, status=404)
    return JsonResponse({**services.entitlement(credential.customer), "key_prefix": credential.prefix})


@login_required
@require_POST
def agent_key_new(request):
    """Create the customer's key for the AI agent (replacing the one they had): shown once,
    on this page, never stored or sent anywhere else."""
    replaces = request.POST.get("replaces", "")[:16]
    try:
        credential, raw = credentials.credential_issue(customer=request.user, by=request.user, replaces=replaces)
    except credentials.CredentialRefused as exc:
        messages.error(request, str(exc))
        return redirect(reverse("subscriptions:account") + "#agent-key")
    # Issued: the key the customer saw (its prefix; "" for none) was the active one and is
    # revoked now. A first key replaced nothing, and its page says nothing of an earlier one.
    response = render(request, "subscriptions/agent_key_created.html",
                      {"credential": credential, "raw": raw, "replaced": replaces})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def agent_key_revoke(request):
    if credentials.credentials_revoke_all(customer_id=request.user.pk, by=request.user,
                                          reason="revoked by the customer"):
        messages.success(request, _("The access key is revoked: the AI agent no longer accepts it."))
    return redirect(reverse("subscriptions:account") + "#agent-key")
