"""The admin says whose it is: every page's header and tab title name Soldee, not Django."""

import pytest

pytestmark = pytest.mark.django_db


def test_admin_pages_are_headed_with_the_portals_name(staff_admin):
    page = staff_admin.get("/admin/").content.decode()
    assert '<div id="site-name"><a href="/admin/">Soldee administration</a></div>' in page
    assert "<title>Site administration | Soldee administration</title>" in page
    assert "Django administration" not in page and "Django site admin" not in page
