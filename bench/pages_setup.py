"""Set up bench/pages.sh: migrate, seed plans and documents, a customer whose history has
N paid payments (each with its receipt and acceptance) and a live subscription; print the
customer's cookies, as a Cookie header value (the only line on stdout).

    DATABASE_URL=postgres://... .venv/bin/python bench/pages_setup.py --payments 100
"""

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soldee.settings")

EMAIL = "bench-account@example.kz"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=100)
    args = parser.parse_args()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    from accounts.models import CustomerProfile
    from billing.models import Payment, PaymentDocument
    from offer import services as offer_services
    from plans.models import Plan
    from soldee.models import Event
    from subscriptions.models import Subscription

    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--no-staff", verbosity=0)
    User = get_user_model()
    user, created = User.objects.get_or_create(email=EMAIL)
    if created:
        user.set_password("bench-password-123")
        user.save()
        CustomerProfile.objects.create(user=user, kind="individual", name="Bench Customer", iin_bin="900101300017",
                                       address="Almaty", phone="+7 701 000 00 00")
    plan = Plan.objects.for_sale().first()
    pinned = [offer_services.pin(d) for d in offer_services.documents_in_force().values()]
    have = Payment.objects.filter(customer=user).count()
    start = timezone.now() - timedelta(days=30 * args.payments)
    with transaction.atomic():
        for i in range(have, args.payments):
            payment = Payment.objects.create(
                customer=user, purpose="subscription.renewal", description=f"Soldee — {plan.name}, 30 days",
                amount_minor=plan.price_minor, kzt_amount_minor=plan.price_minor, status=Payment.Status.SUCCEEDED,
                idempotency_key=f"bench-pages-{user.pk}-{i}", gateway="sandbox", gateway_ref=f"bench-{user.pk}-{i}",
                card_mask="•••• 4242", method=Payment.Method.SAVED_CARD, paid_at=start + timedelta(days=30 * i),
                pinned_documents=pinned)
            PaymentDocument.objects.create(doc_type="receipt", number=f"R-BENCH-{user.pk}-{i}", year=1999,
                                           seq=100_000 * user.pk + i, customer=user, payment=payment,
                                           amount_minor=payment.amount_minor)
            offer_services.acceptance_record(payment=payment, plan_code=plan.code, plan_name=plan.name,
                                             price_minor=payment.amount_minor, currency="KZT",
                                             kind="continued_use" if i else "payment")
            Event.objects.create(verb="payment.succeeded", actor_kind="system", customer=user,
                                 subject_type="billing.payment", subject_id=str(payment.pk))
        if not Subscription.objects.filter(customer=user, status="active").exists():
            now = timezone.now()
            Subscription.objects.create(customer=user, plan=plan, current_period_start=now - timedelta(days=3),
                                        current_period_end=now + timedelta(days=27),
                                        next_charge_at=now + timedelta(days=26))
    client = Client()
    client.force_login(user)
    # The customer's browser also holds the CSRF cookie (the login form set it), so the
    # account page reuses its secret instead of minting one per request.
    response = client.get("/account/", SERVER_NAME="127.0.0.1")
    assert response.status_code == 200, response.status_code
    print(f'sessionid={client.cookies["sessionid"].value}; csrftoken={client.cookies["csrftoken"].value}')
    return 0


if __name__ == "__main__":
    sys.exit(main())
