"""Staff may correct a customer's details in the admin, on the record; nobody deletes a
profile or a user there (a non-resident without a profile would be charged in tenge)."""

import pytest

from soldee.events import for_subject
from soldee.models import Event
from tests.factories import ProfileFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_profile_cannot_be_deleted_in_the_admin(staff_admin):
    profile = ProfileFactory(is_resident=False, country="US", payment_currency="USD")
    response = staff_admin.get(f"/admin/accounts/customerprofile/{profile.pk}/delete/")
    assert response.status_code == 403
    response = staff_admin.post("/admin/accounts/customerprofile/", {
        "action": "delete_selected", "_selected_action": [profile.pk], "post": "yes"})
    profile.refresh_from_db()  # still there


def test_a_user_cannot_be_deleted_in_the_admin(staff_admin):
    user = UserFactory()
    assert staff_admin.get(f"/admin/accounts/user/{user.pk}/delete/").status_code == 403


def test_a_staff_change_of_a_profile_is_on_the_customers_record(staff_admin, staff):
    profile = ProfileFactory(is_resident=False, country="US", payment_currency="USD", iin_bin="")
    page = staff_admin.get(f"/admin/accounts/customerprofile/{profile.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update({"user": profile.user_id, "address": "New York, 5th Ave 1", "is_resident": ""})
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False and v != ""}
    response = staff_admin.post(f"/admin/accounts/customerprofile/{profile.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    [event] = [e for e in for_subject(profile) if e.verb == "profile.changed_by_staff"]
    assert event.actor == staff and event.actor_kind == Event.ActorKind.STAFF and event.customer == profile.user
    assert event.data["changes"]["address"] == {"changed": True}  # personal data: never in the permanent log
    assert "New York" not in str(event.data) and "Almaty, Abay" not in str(event.data)


def test_staff_can_add_the_missing_profile_of_a_customer(staff_admin):
    user = UserFactory()
    response = staff_admin.post("/admin/accounts/customerprofile/add/", {
        "user": user.pk, "kind": "individual", "name": "John Smith", "address": "New York", "phone": "+1 212 555 0100",
        "is_resident": "", "country": "US", "payment_currency": "USD", "email_for_documents": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    profile = user.profile
    [event] = [e for e in for_subject(profile) if e.verb == "profile.changed_by_staff"]
    changes = event.data["changes"]
    assert changes["is_resident"] == {"from": None, "to": False} and changes["payment_currency"]["to"] == "USD"
    assert changes["user"] == {"from": None, "to": user.pk} and changes["name"] == {"changed": True}


@pytest.mark.parametrize(("change", "field"), [
    ({"payment_currency": "BTC"}, "payment_currency"),  # not a currency the portal offers
    ({"country": "Germany"}, "country"),
    ({"country": "KZ"}, "country"),  # a non-resident is not from KZ
])
def test_staff_cannot_save_what_the_customers_own_form_refuses(staff_admin, change, field):
    """A currency nobody can be charged in deferred every renewal charge for good."""
    user = UserFactory()
    data = {"user": user.pk, "kind": "individual", "name": "John Smith", "address": "New York",
            "phone": "+1 212 555 0100", "is_resident": "", "country": "US", "payment_currency": "USD", **change}
    response = staff_admin.post("/admin/accounts/customerprofile/add/", data)
    assert response.status_code == 200 and field in response.context["adminform"].form.errors
    assert not Event.objects.filter(verb="profile.changed_by_staff").exists()
