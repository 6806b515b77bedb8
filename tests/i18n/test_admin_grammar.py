"""The admin's texts that Django builds around our model and field names read as Russian
and Kazakh: the day of the date hierarchy, the filter headings."""

import re

import pytest
from django.utils import timezone
from django.utils.translation import trans_real

from tests.billing.helpers import buy

pytestmark = pytest.mark.django_db

RU_GENITIVE = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
               "октября", "ноября", "декабря"]
RU_NOMINATIVE = ["Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь",
                 "Октябрь", "Ноябрь", "Декабрь"]
KK_MONTHS = ["қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз", "қыркүйек",
             "қазан", "қараша", "желтоқсан"]


@pytest.fixture
def staff_in(staff_admin, settings, monkeypatch):
    """The staff client reading the admin in a language (production's "ru" fallback)."""
    settings.LANGUAGE_CODE = "ru"
    monkeypatch.setattr(trans_real, "_translations", {})

    def get(language, url):
        staff_admin.cookies["django_language"] = language
        response = staff_admin.get(url)
        assert response.status_code == 200, url
        return response.content.decode()
    return get


def _date_hierarchy_days(html):
    nav = re.search(r'<nav class="toplinks".*?</nav>', html, re.S)
    assert nav, "no date hierarchy"
    text = re.sub(r"<span .*?</span>", "", nav.group(0), flags=re.S)  # the "Filter by" label
    return [re.sub(r"\s+", " ", part).strip() for part in re.split(r"<[^>]+>", text) if part.strip()]


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
def test_the_date_hierarchy_names_a_day_with_its_month_as_written_after_a_number(
        staff_in, customer, plan, documents, language):
    """Django's ru MONTH_DAY_FORMAT "j F" gave "30 Ноябрь" (a day takes the genitive:
    "30 ноября"); its kk "F j" gave "Қараша 30" (Kazakh writes "30 қараша")."""
    payment = buy(customer, plan, documents)
    day = timezone.localdate(payment.created_at)
    expected = {"ru": f"{day.day} {RU_GENITIVE[day.month - 1]}",
                "kk": f"{day.day} {KK_MONTHS[day.month - 1]}",
                "en": f"{day.day} {day:%B}"}[language]
    days = _date_hierarchy_days(staff_in(language, "/admin/billing/payment/"))
    assert expected in days, days
    assert f"{day.day} {RU_NOMINATIVE[day.month - 1]}" not in days


def test_kazakh_filter_headings_are_the_field_s_name(staff_in):
    """Django's "By %(filter_title)s" was "<title> бойынша" in Kazakh: titles ending in
    "бойынша" doubled it ("жүйе деректері бойынша негізді бойынша") and yes/no fields read
    "сатылымда бойынша". Like Django's Russian, the heading is the field's name."""
    html = staff_in("kk", "/admin/refunds/refundrequest/")
    headings = [re.sub(r"\s+", " ", text).strip()
                for text in re.findall(r"<summary>(.*?)</summary>", html, re.S)]
    assert "жүйе деректері бойынша негізді" in headings, headings
    assert "мәртебесі" in headings, headings
    assert not any(heading.endswith("бойынша") for heading in headings), headings
    plans = staff_in("kk", "/admin/plans/plan/")
    assert "сатылымда бойынша" not in plans


@pytest.mark.parametrize("language, name, fields, english", [
    ("ru", "Способы двухфакторной аутентификации", ["Тип", "Создано", "Последнее использование"],
     ["Authenticators", "Created at", "Type"]),
    ("kk", "Екі факторлы аутентификация тәсілдері", ["Түрі", "Құрылған уақыты", "Соңғы қолданылған уақыты"],
     ["Authenticators", "Created at", "type бойынша"]),
], ids=["ru", "kk"])
def test_allauth_s_two_factor_model_is_named_in_the_staff_language(staff_in, customer, language, name, fields,
                                                                   english):
    """allauth's Authenticator declares no verbose names: the admin read "Authenticators",
    "type", "created at" in Russian and Kazakh (soldee.field_labels labels it)."""
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=customer, type=Authenticator.Type.TOTP, data={})
    index = staff_in(language, "/admin/")
    assert name in index
    listing = staff_in(language, "/admin/mfa/authenticator/")
    for text in fields:
        assert text in listing, text
    for text in english:
        assert text not in listing, text
