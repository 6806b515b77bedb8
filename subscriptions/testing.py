"""Bulk seeding of due subscriptions for tests and benchmarks (not used by the portal)."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import PaymentMethod, SandboxTransaction

from .models import Subscription


def seed_due_subscriptions(*, n: int, plan, prefix: str | None = None, card_last4: str = "4242",
                           history: bool = False) -> list[int]:
    """n customers, each with a saved sandbox card and a live subscription whose renewal
    is due now. With `history`, each also has what a real first purchase leaves: the paid
    first payment, term 1 and the acceptance of the documents in force (so a renewal
    records no acceptance by continued use). Returns the subscription ids."""
    prefix = prefix or secrets.token_hex(4)
    now = timezone.now()
    User = get_user_model()
    users = User.objects.bulk_create([User(email=f"due-{prefix}-{i}@example.kz", password="!") for i in range(n)])
    tokens = [f"sbx_tok_{prefix}_{i}" for i in range(n)]
    SandboxTransaction.objects.bulk_create([
        SandboxTransaction(kind="hosted", invoice_id=f"seed-{prefix}-{i}", idempotency_key=f"seed:{prefix}:{i}",
                           amount_minor=plan.price_minor, currency="KZT", card_last4=card_last4, token=tok,
                           status="approved", decided_at=now)
        for i, tok in enumerate(tokens)
    ])
    PaymentMethod.objects.bulk_create([
        PaymentMethod(customer=u, gateway="sandbox", token=tok, card_mask=f"•••• {card_last4}")
        for u, tok in zip(users, tokens, strict=True)
    ])
    subs = Subscription.objects.bulk_create([
        Subscription(customer=u, plan=plan, status="active", auto_renew=True,
                     current_period_start=now - timedelta(days=29, hours=23),
                     current_period_end=now + timedelta(hours=1), next_charge_at=now - timedelta(minutes=1))
        for u in users
    ])
    if history:
        _seed_first_purchase(subs=subs, plan=plan, prefix=prefix, tokens=tokens, card_last4=card_last4)
    return [s.pk for s in subs]


def _seed_first_purchase(*, subs, plan, prefix, tokens, card_last4) -> None:
    from billing.models import Payment
    from offer import services as offer_services
    from offer.models import Acceptance, AcceptedDocument

    from .models import Term

    pinned = [offer_services.pin(d) for d in offer_services.documents_in_force().values()]
    payments = Payment.objects.bulk_create([
        Payment(customer_id=s.customer_id, purpose="subscription.checkout", purpose_ref=plan.code,
                description=f"Soldee — {plan.name}, 30 days", amount_minor=plan.price_minor, currency="KZT",
                kzt_amount_minor=plan.price_minor, idempotency_key=f"seed-checkout:{prefix}:{i}",
                gateway="sandbox", gateway_ref=f"seed-{prefix}-{i}", status=Payment.Status.SUCCEEDED,
                paid_at=s.current_period_start, card_mask=f"•••• {card_last4}", pinned_documents=pinned)
        for i, s in enumerate(subs)
    ])
    Term.objects.bulk_create([
        Term(subscription=s, payment=p, plan=plan, number=1, starts_at=s.current_period_start,
             ends_at=s.current_period_end)
        for s, p in zip(subs, payments, strict=True)
    ])
    acceptances = Acceptance.objects.bulk_create([
        Acceptance(customer_id=s.customer_id, payment=p, plan_code=plan.code, plan_name=plan.name,
                   price_minor=p.amount_minor, currency="KZT", customer_snapshot={}, payment_reference=p.gateway_ref,
                   accepted_at=p.paid_at)
        for s, p in zip(subs, payments, strict=True)
    ])
    AcceptedDocument.objects.bulk_create([
        AcceptedDocument(acceptance=a, document_id=d["id"], kind=d["kind"], sha256=d["sha256"])
        for a in acceptances for d in pinned
    ])
