"""Bulk seeding of due subscriptions for tests and benchmarks (not used by the portal)."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import PaymentMethod, SandboxTransaction

from .models import Subscription


def seed_due_subscriptions(*, n: int, plan, prefix: str | None = None, card_last4: str = "4242") -> list[int]:
    """n customers, each with a saved sandbox card and a live subscription whose renewal
    is due now. Returns the subscription ids."""
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
    return [s.pk for s in subs]
