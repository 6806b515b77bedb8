"""Customer pages: own refund requests and critical-error reports. Another customer's
objects are a 404, never a 403 (their existence is not disclosed)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing.models import Payment
from soldee import limits
from soldee.event_texts import CUSTOMER_TEXTS
from subscriptions.models import Subscription

from . import attachments, selectors, services
from .forms import ErrorReportForm, RefundRequestForm
from .models import ErrorReport, RefundRequest

TOO_MANY = gettext_lazy("You have sent many of these in a short time. Please try again later, or write to us by "
                        "e-mail.")


@login_required
def index(request):
    return render(request, "refunds/index.html", selectors.customer_overview(request.user))


@login_required
def error_report_create(request):
    if request.method == "POST":
        form = ErrorReportForm(request.POST, request.FILES)
        if form.is_valid() and limits.used_up("error_report", request.user.pk):
            form.add_error(None, TOO_MANY)
        elif form.is_valid():
            report = services.error_report_create(
                customer=request.user, what_fails=form.cleaned_data["what_fails"],
                since=form.cleaned_data["since"], severity=form.cleaned_data["severity"],
                attachment=form.cleaned_data["attachment"],
            )
            limits.count("error_report", request.user.pk)
            messages.success(request, _("Your report is registered. If it is a critical error, we aim to resolve it by %(date)s.")
                             % {"date": formats.date_format(timezone.localtime(report.deadline_at),
                                                            "DATETIME_FORMAT")})
            return redirect("refunds:error_report_detail", pk=report.pk)
        if request.FILES.get("attachment") and "attachment" not in form.errors:
            # A browser cannot keep a chosen file across a page with errors: say so.
            form.add_error("attachment", _("Please choose the file again: it was not kept because another field "
                                           "needs correcting."))
    else:
        form = ErrorReportForm()
    return render(request, "refunds/error_report_form.html", {"form": form})


@login_required
def error_report_detail(request, pk):
    report = get_object_or_404(ErrorReport, pk=pk, customer=request.user)
    return render(request, "refunds/error_report_detail.html",
                  {"report": report, "events": selectors.events_for(report).filter(verb__in=list(CUSTOMER_TEXTS))})


@login_required
def error_report_attachment(request, pk):
    report = get_object_or_404(ErrorReport, pk=pk, customer=request.user)
    return attachments.response(report)


@login_required
def request_create(request, public_id):
    payment = get_object_or_404(Payment, public_id=public_id, customer=request.user,
                                status=Payment.Status.SUCCEEDED)
    paid_ahead = _paid_ahead_term(payment)
    if request.method == "POST":
        form = RefundRequestForm(request.POST)
        if form.is_valid() and limits.used_up("refund_request", request.user.pk):
            form.add_error(None, TOO_MANY)
        elif form.is_valid():
            try:
                refund_request = services.refund_request_create(
                    customer=request.user, payment_id=payment.pk, ground=form.cleaned_data["ground"],
                    explanation=form.cleaned_data["explanation"],
                )
            except services.RefundError as exc:
                form.add_error(None, str(exc))
            else:
                limits.count("refund_request", request.user.pk)
                messages.success(request, _("Your refund request is registered. We will e-mail you the decision."))
                return redirect("refunds:request_detail", pk=refund_request.pk)
    else:
        # A page that knows the ground (the account's note on a paid-ahead term: "access not
        # granted") pre-selects it; the customer may still choose another of clause 7's.
        ground = request.GET.get("ground", "")
        initial = {"ground": ground} if ground in RefundRequest.Ground.values else {}
        if paid_ahead is not None:  # what to write is known: the customer may change it
            initial["explanation"] = _(
                "Automatic renewal is off, and this paid term has not begun (it starts %(start)s): please "
                "return this payment (clause 6.4 of the Public Offer).") % {
                "start": formats.date_format(timezone.localtime(paid_ahead.starts_at), "DATETIME_FORMAT")}
        form = RefundRequestForm(initial=initial or None)
    return render(request, "refunds/request_form.html",
                  {"form": form, "payment": payment, "paid_ahead": paid_ahead})


def _paid_ahead_term(payment):
    """The term `payment` paid when it is the next term of a live subscription with renewal
    off that has not begun (subscriptions.selectors.paid_ahead_refund, the account's note
    that links here), else None: the form then says what that payment is for."""
    from subscriptions.models import Term
    from subscriptions.selectors import paid_ahead_refund

    term = Term.objects.filter(payment=payment).select_related("subscription").first()
    ahead = paid_ahead_refund(term.subscription) if term is not None else None
    return ahead["term"] if ahead is not None and ahead["term"].pk == term.pk else None


@login_required
@require_POST
def next_term_refund(request, subscription_id):
    """From the "turn renewal off" page: off, and the next term (paid ahead, not begun) back."""
    subscription = get_object_or_404(Subscription, pk=subscription_id, customer=request.user)
    try:
        refund_request = services.next_term_refund_request(customer=request.user, subscription_id=subscription.pk)
    except services.RefundError as exc:
        messages.error(request, str(exc))
        return redirect("subscriptions:account")
    messages.success(request, _("Automatic renewal is off, and your request to return the payment for the next term "
                                "is registered. We will e-mail you the decision; once it is returned, your access "
                                "ends with the term in use."))
    return redirect("refunds:request_detail", pk=refund_request.pk)


@login_required
def request_detail(request, pk):
    refund_request = get_object_or_404(RefundRequest.objects.select_related("payment"), pk=pk,
                                       customer=request.user)
    refund = getattr(refund_request, "refund", None)
    return render(request, "refunds/request_detail.html", {
        "refund_request": refund_request, "refund": refund,
        "events": selectors.events_for(refund_request, refund).filter(verb__in=list(CUSTOMER_TEXTS)),
    })


@login_required
@require_POST
def request_withdraw(request, pk):
    """The customer takes back their own open request (the wrong ground, a change of mind)."""
    refund_request = get_object_or_404(RefundRequest, pk=pk, customer=request.user)
    try:
        services.refund_request_withdraw(customer=request.user, request_id=refund_request.pk)
    except services.RefundError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Your refund request is withdrawn. You can ask again, on the ground that "
                                    "applies, from the Refunds page."))
    return redirect("refunds:request_detail", pk=refund_request.pk)
