"""Admin lists show amounts as money and codes as words (staff read them)."""

import pytest

from tests.billing.helpers import buy

pytestmark = pytest.mark.django_db


def test_payments_acceptances_and_sandbox_lists_read_as_words_and_money(staff_admin, customer, plan, documents):
    buy(customer, plan, documents)
    payments = staff_admin.get("/admin/billing/payment/").content.decode()
    assert "Purchase" in payments and "₸29,900" in payments
    assert ">subscription.checkout<" not in payments and "2990000" not in payments
    assert staff_admin.get("/admin/billing/payment/?purpose=subscription.checkout").context["cl"].result_count == 1
    assert staff_admin.get("/admin/billing/payment/?purpose=subscription.renewal").context["cl"].result_count == 0
    acceptances = staff_admin.get("/admin/offer/acceptance/").content.decode()
    assert "₸29,900" in acceptances and "2990000" not in acceptances
    sandbox = staff_admin.get("/admin/billing/sandboxtransaction/").content.decode()
    assert "₸29,900" in sandbox and "2990000" not in sandbox
