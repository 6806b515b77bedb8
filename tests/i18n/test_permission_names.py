"""The permission pickers of the group and user admins name each permission in the staff
member's language: Django stores the built-in ones' names in English ("Can add payment") and
showed them so in the Russian and Kazakh admin. Every model of ours has a translated name, as
the picker names it too (the browser explorer found "amendment notice dismissal",
"heartbeat")."""

import html
import re

import pytest
from django.apps import apps
from django.utils import translation
from django.utils.translation import trans_real

pytestmark = pytest.mark.django_db

OURS = ("accounts", "plans", "offer", "subscriptions", "billing", "refunds", "soldee")


def _options(page: str) -> list[str]:
    return [html.unescape(text).strip() for text in re.findall(r"<option [^>]*>([^<]*)</option>", page)]


def test_every_model_of_ours_declares_a_translatable_name():
    unnamed = [m._meta.label for m in apps.get_models() if m._meta.app_label in OURS
               and "verbose_name" not in m._meta.original_attrs]
    assert unnamed == []


@pytest.mark.parametrize("language", ["ru", "kk"])
@pytest.mark.parametrize("url", ["/admin/auth/group/add/", "user"])
def test_the_permission_picker_names_permissions_in_the_staff_language(staff_in, language, url):
    client = staff_in(language)
    if url == "user":
        url = f"/admin/accounts/user/{client.staff.pk}/change/"
    options = _options(client.get(url).content.decode())
    with translation.override(language):
        from billing.models import Payment
        payment = str(Payment._meta.verbose_name)
        app = str(apps.get_app_config("billing").verbose_name)
        add = translation.gettext("Can add %(name)s") % {"name": payment}
        view = translation.gettext("Can view %(name)s") % {"name": payment}
        heartbeat = str(apps.get_model("soldee.Heartbeat")._meta.verbose_name)
    assert f"{app} | {payment} | {add}" in options
    assert f"{app} | {payment} | {view}" in options
    assert not [text for text in options if "Can add payment" in text or "| heartbeat |" in text]
    assert [text for text in options if f"| {heartbeat} |" in text]


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_a_staff_member_who_only_looks_reads_the_permissions_in_their_language(client, settings, monkeypatch,
                                                                               language):
    """A staff member who is not a superuser sees a group's and their own permissions read-only:
    Django's read-only field joined the stored English names."""
    from django.contrib.auth.models import Group, Permission

    from tests.factories import UserFactory

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    settings.LANGUAGE_CODE = "ru"
    monkeypatch.setattr(trans_real, "_translations", {})
    team = Group.objects.create(name="Support")
    team.permissions.add(*Permission.objects.filter(codename__in=["view_group", "view_user", "change_user",
                                                                  "view_payment"]))
    support = UserFactory(email="support@soldee.kz", is_staff=True)
    support.groups.add(team)
    support.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client.force_login(support)
    client.cookies["django_language"] = language
    with translation.override(language):
        from billing.models import Payment
        view = translation.gettext("Can view %(name)s") % {"name": str(Payment._meta.verbose_name)}
    for url in (f"/admin/auth/group/{team.pk}/change/", f"/admin/accounts/user/{support.pk}/change/"):
        page = html.unescape(client.get(url).content.decode())
        assert f"| {view}" in page, url
        assert "Can view payment" not in page and "Can view user" not in page, url
