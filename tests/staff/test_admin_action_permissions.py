"""Every admin action that changes money, contract or subscription state names the
permission it needs: a staff member who may only view the rows sees no such action and
cannot post one. (Found by the money review: a view-only user could charge cards.)"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission

from subscriptions.models import Subscription
from tests.billing.helpers import buy
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_every_custom_admin_action_declares_its_permission():
    undeclared = []
    ours = {"accounts", "plans", "offer", "subscriptions", "billing", "refunds", "soldee"}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ours:  # allauth's "make verified" is its own
            continue
        for action in model_admin.actions or ():
            func = getattr(model_admin, action) if isinstance(action, str) else action
            if not getattr(func, "allowed_permissions", None):
                undeclared.append(f"{model._meta.label}.{getattr(func, '__name__', action)}")
    assert undeclared == []


def test_a_view_only_staff_member_cannot_charge_or_change_renewal(client, customer, plan, documents, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    buy(customer, plan, documents)
    sub = Subscription.objects.get(customer=customer)
    viewer = UserFactory(is_staff=True, email="viewer@soldee.kz")
    viewer.user_permissions.add(Permission.objects.get(codename="view_subscription"))
    client.force_login(viewer)
    page = client.get("/admin/subscriptions/subscription/").content.decode()
    assert "renewal_off" not in page and "retry_now" not in page and "renewal_on" not in page
    for action in ("renewal_off", "renewal_on", "retry_now"):
        client.post("/admin/subscriptions/subscription/", {"action": action, "_selected_action": [sub.pk],
                                                           "confirmed": "yes", "reason": "e-mail of today"})
    sub.refresh_from_db()
    assert sub.auto_renew and sub.next_charge_at is not None
    editor = UserFactory(is_staff=True, email="editor@soldee.kz")
    editor.user_permissions.add(*Permission.objects.filter(codename__in=["view_subscription",
                                                                         "change_subscription"]))
    client.force_login(editor)
    assert "renewal_off" in client.get("/admin/subscriptions/subscription/").content.decode()
    client.post("/admin/subscriptions/subscription/", {"action": "renewal_off", "_selected_action": [sub.pk],
                                                       "confirmed": "yes", "reason": "e-mail of today"})
    sub.refresh_from_db()
    assert not sub.auto_renew
