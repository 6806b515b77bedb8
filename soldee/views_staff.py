"""Staff pages inside the admin (wrapped with admin.site.admin_view in soldee/staff_urls.py):
the dashboard and the test clock. Thin: read through selectors, write through services."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import dashboard as metrics
from . import events, test_clock
from .models import Event
from .money import format_money


def dashboard(request):
    # Revenue, refunds and churn: for staff who may see payments and subscriptions (found by
    # the security review: any staff account saw them).
    if not request.user.has_perms(["billing.view_payment", "subscriptions.view_subscription"]):
        raise PermissionDenied(_("You may not view payments and subscriptions."))
    data = metrics.metrics()
    weeks = data["weeks"]
    refunds = data["refunds"]
    charts = {
        "weeks": metrics.bar_chart(
            title=_("New, churned and lapsed subscriptions per week"),
            groups=[(w.label[-3:], [w.new, w.churned, w.lapsed]) for w in weeks],
            series=[(_("New"), "s-new"), (_("Churned"), "s-churned"), (_("Lapsed"), "s-lapsed")],
        ),
        "refunds": metrics.bar_chart(
            title=_("Refund requests by ground and status"),
            groups=[(str(row["short"]), row["requests"]) for row in refunds["rows"]],
            series=[(label, f"s-status{i}") for i, label in enumerate(refunds["request_statuses"])],
            width=480,
        ),
    }
    context = {
        **admin.site.each_context(request),
        "title": _("Dashboard"),
        "m": data,
        "mrr_display": format_money(data["subscriptions"]["mrr_minor"], "KZT"),
        "refunded_display": format_money(refunds["totals"]["refunded_kzt_minor"], "KZT"),
        "charts": charts,
    }
    return TemplateResponse(request, "admin/soldee_dashboard.html", context)


class TestClockForm(forms.Form):
    __test__ = False

    UNITS = {"hours": timedelta(hours=1), "days": timedelta(days=1)}

    customer = forms.EmailField(label=gettext_lazy("Customer e-mail"))
    amount = forms.IntegerField(label=gettext_lazy("Advance by"), min_value=1, max_value=9600)
    unit = forms.ChoiceField(label=gettext_lazy("Unit"),
                             choices=[("hours", gettext_lazy("hours")), ("days", gettext_lazy("days"))])

    def clean_customer(self):
        email = self.cleaned_data["customer"]
        user = get_user_model().objects.filter(email__iexact=email, is_staff=False).first()
        if user is None:
            raise forms.ValidationError(_("No customer with this e-mail."))
        return user

    def delta(self) -> timedelta:
        return self.cleaned_data["amount"] * self.UNITS[self.cleaned_data["unit"]]

    def clean(self):
        cleaned = super().clean()
        if "amount" in cleaned and "unit" in cleaned and self.delta() > test_clock.MAX_ADVANCE:
            raise forms.ValidationError(_("Advance by at most %(days)s days at a time.")
                                        % {"days": test_clock.MAX_ADVANCE.days})
        return cleaned


def _customer_state(customer) -> dict:
    from subscriptions.models import AccessGrant, Subscription, Term

    subscriptions = list(Subscription.objects.filter(customer=customer).select_related("plan")
                         .order_by("-created_at")[:5])
    return {
        "customer": customer,
        "offset": test_clock.offset_display(test_clock.offset(customer)),
        "subscriptions": subscriptions,
        "terms": list(Term.objects.filter(subscription__customer=customer).select_related("payment")
                      .order_by("-starts_at")[:6]),
        "grants": list(AccessGrant.objects.filter(customer=customer).order_by("-requested_at")[:6]),
        "events": list(Event.objects.filter(customer=customer).order_by("-created_at", "-id")[:25]),
    }


def test_clock_view(request):
    enabled = test_clock.is_enabled()
    allowed = request.user.has_perm("subscriptions.change_subscription")
    customer = None
    # A customer's state only where the clock runs, and only for staff who may see customers
    # and their subscriptions; each look is logged (found by the security review).
    may_see = enabled and request.user.has_perms(["accounts.view_user", "subscriptions.view_subscription"])
    if may_see and request.GET.get("customer", "").isdigit():
        customer = get_user_model().objects.filter(pk=int(request.GET["customer"]), is_staff=False).first()
        if customer is not None and request.method == "GET":
            events.record(verb="staff.viewed", subject=customer, customer=customer, actor=request.user,
                          actor_kind=Event.ActorKind.STAFF, data={"model": "test_clock", "path": request.path})
    if request.method == "POST":
        if not enabled:
            raise PermissionDenied(_("The test clock is disabled in this environment."))
        if not allowed:
            raise PermissionDenied(_("You may not change subscriptions."))
        form = TestClockForm(request.POST)
        if form.is_valid():
            customer = form.cleaned_data["customer"]
            result = test_clock.advance(customer=customer, by=form.delta(), actor=request.user)
            # Its own sentence after the step count: capitalised ("Nothing was due.").
            done = capfirst(test_clock.outcome_display(result.outcome) or _("nothing was due"))
            messages.success(request, ngettext(
                "Advanced %(email)s by %(delta)s in %(steps)d step. %(done)s.",
                "Advanced %(email)s by %(delta)s in %(steps)d steps. %(done)s.", len(result.steps)) % {
                "email": customer.email, "delta": test_clock.offset_display(result.total),
                "steps": len(result.steps), "done": done})
            return redirect(reverse("soldee_staff:test_clock") + f"?customer={customer.pk}")
    else:
        form = TestClockForm(initial={"unit": "days", "amount": 1,
                                      "customer": customer.email if customer else ""})
    context = {
        **admin.site.each_context(request),
        "title": _("Test clock"),
        "enabled": enabled, "allowed": allowed, "form": form,
        "state": _customer_state(customer) if customer is not None else None,
    }
    return TemplateResponse(request, "admin/soldee_test_clock.html", context, status=200 if enabled else 403)
