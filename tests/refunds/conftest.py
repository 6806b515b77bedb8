"""Fixtures for refunds: a real paid purchase (checkout → sandbox approval → settle),
staff, and a recorder for the Celery tasks that on-commit callbacks enqueue."""

from datetime import datetime, timedelta

import pytest
import time_machine

from billing.gateways import ChargeResult, ChargeStatus
from billing.models import SandboxTransaction
from billing.services import payment_settle
from refunds import tasks
from refunds.selectors import calendar_exceptions
from soldee import business_days as bd
from subscriptions.services import access_mark_granted, checkout_start

ALMATY = bd.ALMATY
# A purchase on Tuesday 10 March 2026, 10:00 Almaty: its term (30 days) covers Nauryz.
PAID_AT = datetime(2026, 3, 10, 10, 0, tzinfo=ALMATY)


@pytest.fixture(autouse=True)
def _calendar_provider():
    # Another test module may reset the provider; refunds always use the staff calendar.
    bd.set_exceptions_provider(calendar_exceptions)
    yield
    bd.set_exceptions_provider(calendar_exceptions)


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """Tasks that on-commit callbacks enqueue: [(task name, args)]. Nothing runs."""
    calls: list[tuple[str, tuple]] = []
    from soldee import tasks as soldee_tasks

    for name, module in (("customer_email", tasks), ("staff_alert", soldee_tasks), ("refund_execute", tasks)):
        task = getattr(module, name)
        monkeypatch.setattr(task, "delay", lambda *args, _n=name: calls.append((_n, args)))
    return calls


def emails(queued) -> list[str]:
    return [args[0] for name, args in queued if name == "customer_email"]



@pytest.fixture
def buy(documents, plan, django_capture_on_commit_callbacks):
    """Pay for `plan` as `customer` at `at`; returns the settled payment."""

    def _buy(customer, at: datetime = PAID_AT):
        with time_machine.travel(at, tick=False):
            payment = checkout_start(customer=customer, plan=plan,
                                     document_ids=[d.pk for d in documents.values()],
                                     token=f"t-{customer.pk}-{int(at.timestamp())}", client_ip="127.0.0.1",
                                     user_agent="pytest")
            txn = SandboxTransaction.objects.create(
                kind="hosted", status="approved", idempotency_key=f"hosted:{payment.idempotency_key}",
                invoice_id=str(payment.public_id), amount_minor=payment.amount_minor,
                currency=payment.currency, decided_at=at,
            )
            with django_capture_on_commit_callbacks(execute=True):
                payment_settle(public_id=payment.public_id, charge=ChargeResult(
                    status=ChargeStatus.APPROVED, gateway_ref=str(txn.id), amount_minor=payment.amount_minor,
                    currency="KZT", card_token=f"tok-{payment.pk}"), source="test")
        payment.refresh_from_db()
        return payment

    return _buy


def grant(payment, minutes_after: float):
    """Access granted `minutes_after` payment (clause 5.2 promises 30)."""
    g = payment.term.access_grant
    with time_machine.travel(payment.paid_at + timedelta(minutes=minutes_after), tick=False):
        result = access_mark_granted(grant_id=g.pk, platform_ref="test")
    payment.refresh_from_db()  # drop the cached term and grant
    return result
