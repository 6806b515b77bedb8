import logging

from allauth.account.decorators import verified_email_required
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from soldee import events
from soldee.models import Event
from soldee.staff_access import staff_may_view

from . import services
from .gateways import ChargeStatus, GatewayError, SignatureError, get_gateway
from .gateways import sandbox as sandbox_gateway
from .models import Payment, SandboxTransaction

log = logging.getLogger(__name__)
MAX_WEBHOOK_BODY = 256 * 1024  # no gateway notification comes near this


@csrf_exempt  # gateways cannot send our CSRF token; the HMAC signature authenticates
@require_POST
def webhook(request, gateway_name: str):
    if gateway_name not in services.webhook_gateways():
        # Only the gateway payments are made with (and one being retired) may tell us of money:
        # a sandbox notification, signed with a development secret, must never pay a real invoice.
        log.warning("refused a notification for gateway %r, which is not in use, from %s",
                    gateway_name, request.META.get("REMOTE_ADDR"))
        raise Http404
    try:
        gateway = get_gateway(gateway_name)
    except GatewayError:
        raise Http404 from None
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_WEBHOOK_BODY:
        return HttpResponse(b"payload too large", status=413, content_type="text/plain")
    body = request.body
    if len(body) > MAX_WEBHOOK_BODY:  # a chunked request declares no length
        return HttpResponse(b"payload too large", status=413, content_type="text/plain")
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        notification = gateway.parse_notification(body=body, headers=headers)
    except SignatureError as exc:
        log.warning(
            "refused %s notification from %s: %s", gateway_name,
            request.META.get("REMOTE_ADDR"), exc,
        )
        return HttpResponseBadRequest(b"invalid signature", content_type="text/plain")
    if notification.kind == "check" and hasattr(gateway, "check_code"):
        # CloudPayments' Check asks, before the card is charged, whether this payment may go
        # ahead: answered from our payment (a protocol code), never stored or applied.
        return HttpResponse(gateway.ack_body(notification, accepted=True, code=gateway.check_code(notification)),
                            content_type=gateway.ack_content_type)
    row, _created = services.notification_store(
        gateway=gateway_name, notification=notification, body=body,
        headers={k: v for k, v in headers.items() if k in ("content-type", "user-agent")},
    )
    try:
        services.notification_process(inbox_id=row.pk, notification=notification)
    except Exception as exc:  # stored; the gateway retries, and staff see the error
        log.exception("processing notification %s failed", row)
        services.notification_mark_failed(inbox_id=row.pk, error=repr(exc))
        return HttpResponse(gateway.ack_body(notification, accepted=False), status=500,
                            content_type=gateway.ack_content_type)
    return HttpResponse(gateway.ack_body(notification, accepted=True),
                        content_type=gateway.ack_content_type)


@login_required
def payment_return(request, public_id):
    """The customer is back from the hosted page. The redirect may come before the
    notification: ask the gateway for the true status (same services, same end state)."""
    payment = get_object_or_404(Payment, public_id=public_id, customer=request.user)
    try:
        payment = services.payment_refresh_from_gateway(payment=payment, source="return")
    except GatewayError:
        log.warning("status look-up for %s failed; waiting for the notification", payment)
    # Paid in a second tab while the first payment had already bought the plan: say so at once.
    duplicate = payment.status == Payment.Status.SUCCEEDED and Event.objects.filter(
        verb__in=events.UNAPPLIED_PAYMENT_VERBS, subject_type="billing.payment",
        subject_id=str(payment.pk)).exists()
    return render(request, "billing/payment_return.html", {"payment": payment, "duplicate": duplicate})


@login_required
def payment_continue(request, public_id):
    """Back to the hosted page of an unfinished payment (the gateway call is idempotent:
    the same payment page again, never a second charge)."""
    payment = get_object_or_404(Payment, public_id=public_id, customer=request.user)
    if payment.status != Payment.Status.PENDING or payment.method != Payment.Method.CARD:
        return redirect("billing:return", public_id=payment.public_id)
    try:
        # The card may be typed already and the bank still deciding (3-D Secure, a slow
        # issuer): then there is nothing to pay on the page; the return page waits for it.
        answer = get_gateway(payment.gateway).lookup(invoice_id=str(payment.public_id))
        if answer.status == ChargeStatus.PENDING:
            services.payment_bank_deciding(public_id=payment.public_id, source="continue")
            messages.info(request, _("The bank is still deciding this payment: nothing more to pay. This page shows "
                                     "its result; we e-mail you the receipt."))
            return redirect("billing:return", public_id=payment.public_id)
        if answer.status in (ChargeStatus.APPROVED, ChargeStatus.DECLINED):
            # Decided, its notification late: the result page applies and shows it (a paid one
            # must not be offered its card form again).
            return redirect("billing:return", public_id=payment.public_id)
        return redirect(services.payment_hosted_url(payment=payment))
    except GatewayError:
        messages.error(request, _("The payment service is not answering. Please try again in a minute."))
        return redirect("subscriptions:account")


def _luhn_valid(digits: str) -> bool:
    """The check digit every card number carries (ISO/IEC 7812)."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


class SandboxCardForm(forms.Form):
    card_number = forms.CharField(label=_("Card number"), max_length=23)

    def clean_card_number(self):
        """A number that cannot be a card's (letters, too few or too many digits, a wrong
        check digit) is refused on the page, as a real payment page does: no bank is asked,
        nothing is charged or declined. (It was declined as "Insufficient funds".)"""
        number = self.cleaned_data["card_number"]
        digits = "".join(ch for ch in number if ch.isdigit())
        if not set(number) <= set("0123456789 -") or not 12 <= len(digits) <= 19 or not _luhn_valid(digits):
            raise forms.ValidationError(_("Enter a valid card number: 12 to 19 digits, as printed on the card."))
        return number


def sandbox_page(request, txn_id):
    """The sandbox gateway's hosted page (it stands in for the gateway's own site), in the
    language the portal passed when it created the payment (else the browser's)."""
    if get_gateway().name != "sandbox":
        raise Http404
    txn = get_object_or_404(SandboxTransaction, pk=txn_id, kind=SandboxTransaction.Kind.HOSTED)
    language = txn.language or translation.get_language()
    with translation.override(language):
        if request.method == "POST" and txn.status == SandboxTransaction.Status.AWAITING_CARD:
            form = SandboxCardForm(request.POST)
            if form.is_valid():
                sandbox_gateway.decide_hosted(txn.pk, form.cleaned_data["card_number"])
                return redirect(txn.return_url)
        else:
            form = SandboxCardForm(initial={"card_number": "4242 4242 4242 4242"})
        response = render(request, "billing/sandbox_page.html", {
            "txn": txn, "form": form,
            "test_cards": [(number, gettext(hint)) for number, hint in sandbox_gateway.TEST_CARD_HINTS.items()],
            "amount": services.format_money(txn.amount_minor, txn.currency, language),
            # The ledger keeps the reason in English (it goes into the notification).
            "reason": gettext(txn.reason) if txn.reason else "",
        })
    response["Content-Language"] = language
    return response


# --- Receipts, refund notes, invoices (owner or staff; anyone else gets 404) -----------

PENDING_REFRESH_SECONDS = 5
PENDING_REFRESH_TIMES = 24  # two minutes


def pdf_being_prepared(request, *, title: str):
    """A PDF asked for before it exists, which is on its way (the worker or a render sweep
    brings it): 'being prepared', the document's `title`, Try again and a link to the
    personal account; 503 with Retry-After, not a 404 or a server error. Payment documents
    here, agreement copies (offer.views.copy_download)."""
    # It usually comes within seconds: the page reloads itself every REFRESH_SECONDS, up to
    # REFRESH_TIMES times (counted in the URL), then leaves "Try again" to the reader, so a
    # PDF that does not come (staff are told by the render sweep) reloads no tab for ever.
    try:
        reloads = max(0, int(request.GET.get("reload", "0")))
    except ValueError:
        reloads = 0
    refresh_url = f"{request.path}?reload={reloads + 1}" if reloads < PENDING_REFRESH_TIMES else ""
    response = render(request, "billing/document_pending.html",
                      {"title": title, "refresh_url": refresh_url, "refresh_seconds": PENDING_REFRESH_SECONDS,
                       "try_again_url": request.path}, status=503)
    response["Retry-After"] = "120"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def document_pdf(request, number):
    from django.http import FileResponse

    from . import documents
    from .models import PaymentDocument

    document = PaymentDocument.objects.filter(number=number).first()
    if document is None or not (document.customer_id == request.user.pk or staff_may_view(
            request, document, perm="billing.view_paymentdocument", customer=document.customer_id)):
        raise Http404
    if not document.file:
        # The worker has not rendered it yet: never render here (WeasyPrint is slow); make
        # sure its render is on its way (sent once: "Try again" sends nothing more) and say
        # it is being prepared. Not a server error: the document exists, its PDF comes.
        documents.document_render_send(document_id=document.pk)
        return pdf_being_prepared(request, title=f"{document.get_doc_type_display()} {document.number}")
    response = FileResponse(document.file.open("rb"), as_attachment=True, content_type="application/pdf",
                            filename=f"{document.number}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response


@verified_email_required  # clause 5.1: as checkout, a confirmed address before an invoice to pay
@require_POST
def invoice_create(request):
    from django.contrib import messages
    from django.urls import reverse
    from django.utils.translation import gettext as _gettext

    from plans.models import Plan

    from . import documents

    plan = Plan.objects.filter(code=request.POST.get("plan", "")).first()  # invoice_issue says what is on sale
    if plan is None:
        messages.error(request, _gettext("Please choose a plan."))
        return redirect(reverse("subscriptions:account") + "#invoices")
    try:
        invoice = documents.invoice_issue(customer=request.user, plan=plan)
    except documents.InvoiceRefused as exc:
        messages.error(request, str(exc))
        return redirect(reverse("subscriptions:account") + "#invoices")
    return redirect("billing:document_pdf", number=invoice.number)
