import pytest

from soldee.money import format_money

from ..factories import PlanFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("lang", "text"), [("ru", "29\xa0900\xa0₸"), ("kk", "29\xa0900\xa0₸"), ("en", "₸29,900")])
def test_prices_are_formatted_for_the_locale(lang, text):
    assert format_money(2_990_000, "KZT", lang) == text


def test_a_currency_without_an_english_sign_is_spaced_from_its_amount():
    """Found by the customer explorer: "RUB30,659.51" in English."""
    assert format_money(3_065_951, "RUB", "en") == "RUB\xa030,659.51"
    assert format_money(-3_065_951, "RUB", "en") == "-RUB\xa030,659.51"
    assert format_money(5_737, "USD", "en") == "$57.37"
    assert format_money(3_065_951, "RUB", "ru") == "30\xa0659,51\xa0₽"


def test_the_pricing_page_lists_active_plans_in_order_and_hides_archived_ones(client):
    PlanFactory(code="b", name="Business", price_minor=7_990_000, display_order=2)
    PlanFactory(code="a", name="Start", price_minor=2_990_000, display_order=1)
    PlanFactory(code="old", name="Legacy", price_minor=990_000, is_active=False)
    body = client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert body.index("Start") < body.index("Business")
    assert "Legacy" not in body
    assert "29\xa0900\xa0₸" in body


def test_the_pricing_page_describes_plans_in_the_readers_language(client):
    PlanFactory(code="a", name="Start", description="One AI sales agent.", features=["1 AI agent", "E-mail support"],
                translations={"ru": {"description": "Один ИИ-агент продаж.", "features": ["1 ИИ-агент"]},
                              "kk": {"features": ["1 ЖИ агент"]}})
    ru = client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Один ИИ-агент продаж." in ru and "<li>1 ИИ-агент</li>" in ru and "1 AI agent" not in ru
    kk = client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="kk").content.decode()
    assert "<li>1 ЖИ агент</li>" in kk and "One AI sales agent." in kk  # no Kazakh description: the plan's own
    en = client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "One AI sales agent." in en and "<li>E-mail support</li>" in en


def test_the_demo_plans_are_described_in_russian_and_kazakh(db):
    from django.core.management import call_command

    from plans.models import Plan

    call_command("seed_demo", "--no-staff", verbosity=0)
    for plan in Plan.objects.all():
        for lang in ("ru", "kk"):
            assert plan.translations[lang]["description"] and len(plan.translations[lang]["features"]) == len(
                plan.features)


@pytest.mark.parametrize("bad", [{"ru": "текст"}, {"ru": {"features": "1 агент"}}, {"ru": {"description": ["x"]}},
                                 {"ru": {"name": "Старт"}}, ["ru"]])
def test_badly_shaped_translations_are_refused_in_the_admin_and_never_break_the_page(client, bad):
    from django.core.exceptions import ValidationError

    plan = PlanFactory(code="a", name="Start", description="One AI sales agent.", features=["1 AI agent"])
    plan.translations = bad
    with pytest.raises(ValidationError):
        plan.full_clean()
    plan.save()  # written around the form (a shell, a bulk update): the page still renders
    response = client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 200
    body = response.content.decode()
    assert "One AI sales agent." in body and "<li>1 AI agent</li>" in body
