import pytest

from soldee.money import format_money

from ..factories import PlanFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("lang", "text"), [("ru", "29\xa0900\xa0₸"), ("kk", "29\xa0900\xa0₸"), ("en", "₸29,900")])
def test_prices_are_formatted_for_the_locale(lang, text):
    assert format_money(2_990_000, "KZT", lang) == text


def test_the_pricing_page_lists_active_plans_in_order_and_hides_archived_ones(client):
    PlanFactory(code="b", name="Business", price_minor=7_990_000, display_order=2)
    PlanFactory(code="a", name="Start", price_minor=2_990_000, display_order=1)
    PlanFactory(code="old", name="Legacy", price_minor=990_000, is_active=False)
    body = client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert body.index("Start") < body.index("Business")
    assert "Legacy" not in body
    assert "29\xa0900\xa0₸" in body
