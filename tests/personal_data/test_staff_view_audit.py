"""Staff opening a customer's record in the admin is logged (`staff.viewed`): who looked
at whose personal data, and when."""

import pytest

from soldee.models import Event


def _viewed(staff, customer):
    return Event.objects.filter(verb="staff.viewed", actor=staff, customer=customer,
                                actor_kind=Event.ActorKind.STAFF)


@pytest.mark.parametrize("path", [
    lambda c, p: f"/admin/accounts/user/{c.pk}/change/",
    lambda c, p: f"/admin/accounts/customerprofile/{c.profile.pk}/change/",
    lambda c, p: f"/admin/billing/payment/{p.pk}/change/",
    lambda c, p: f"/admin/offer/acceptance/{p.acceptance.pk}/change/",
], ids=["user", "customerprofile", "payment", "acceptance"])
def test_opening_a_customer_record_is_logged(path, staff_client, staff, customer, buy):
    payment = buy(customer)
    url = path(customer, payment)
    response = staff_client.get(url)
    assert response.status_code == 200
    event = _viewed(staff, customer).get()
    assert event.data["path"] == url


def test_the_list_page_and_a_post_are_not_logged_as_views(staff_client, staff, customer):
    assert staff_client.get("/admin/accounts/user/").status_code == 200
    assert not _viewed(staff, customer).exists()


def test_a_missing_object_is_not_logged(staff_client, staff):
    staff_client.get("/admin/accounts/user/999999/change/")
    assert not Event.objects.filter(verb="staff.viewed").exists()
