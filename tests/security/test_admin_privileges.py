"""Who may do what in the admin is a superuser's to change (found by the security review:
"change user" alone let a staff member tick superuser for themself)."""

import pytest
from django.contrib.auth.models import Permission

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False  # the second factor is tested in test_staff_mfa
    user = UserFactory(email="support@soldee.kz", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["change_user", "view_user"],
                                                         content_type__app_label="accounts"))
    return user


def _post_own_page(client, user, **changes):
    page = client.get(f"/admin/accounts/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if name in form.fields and value is not None}
    data.pop("password", None)
    data = {name: [getattr(v, "pk", v) for v in value] if isinstance(value, list) else value
            for name, value in data.items()}
    data.update({"email": user.email, "language": "en", "date_joined_0": "2025-01-01", "date_joined_1": "10:00:00",
                 **changes})
    response = client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def test_a_staff_member_with_change_user_cannot_make_themself_superuser(client, support):
    client.force_login(support)
    response = _post_own_page(client, support, is_superuser="on", is_staff="on",
                              user_permissions=[p.pk for p in Permission.objects.all()[:5]])
    assert response.status_code == 302
    support.refresh_from_db()
    assert not support.is_superuser
    assert set(support.user_permissions.values_list("codename", flat=True)) == {"change_user", "view_user"}


def test_another_staff_account_is_changed_by_a_superuser_only(client, support):
    boss = UserFactory(email="boss@soldee.kz", is_staff=True, is_superuser=True)
    client.force_login(support)
    assert client.get(f"/admin/accounts/user/{boss.pk}/password/").status_code == 403
    page = client.get(f"/admin/accounts/user/{boss.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]  # view only
    customer = UserFactory(email="c@example.kz")
    assert client.get(f"/admin/accounts/user/{customer.pk}/change/").context["has_change_permission"]
    client.force_login(boss)
    response = _post_own_page(client, support, is_staff="on", is_active="on", is_superuser="on")
    assert response.status_code == 302
    support.refresh_from_db()
    assert support.is_superuser


def test_a_staff_member_cannot_grant_themself_permissions_through_their_group(client, settings):
    """Found by the review: the user form was locked, the group form was not."""
    from django.contrib.auth.models import Group

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    team = Group.objects.create(name="Support")
    team.permissions.add(*Permission.objects.filter(codename__in=["view_group", "change_group", "add_group"]))
    support = UserFactory(email="support-group@soldee.kz", is_staff=True)
    support.groups.add(team)
    client.force_login(support)
    everything = list(Permission.objects.values_list("pk", flat=True))
    response = client.post(f"/admin/auth/group/{team.pk}/change/", {"name": "Support", "permissions": everything})
    assert response.status_code == 403
    assert client.post("/admin/auth/group/add/", {"name": "All", "permissions": everything}).status_code == 403
    support = type(support).objects.get(pk=support.pk)
    assert not support.has_perm("billing.change_payment")
    assert client.get(f"/admin/auth/group/{team.pk}/change/").status_code == 200  # they may look
    client.force_login(UserFactory(email="root@soldee.kz", is_staff=True, is_superuser=True))
    client.post(f"/admin/auth/group/{team.pk}/change/", {"name": "Support", "permissions": everything})
    assert type(support).objects.get(pk=support.pk).has_perm("billing.change_payment")
