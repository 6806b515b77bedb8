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


def _title_and_count(html):
    title = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1).strip()
    nav = re.search(r'<nav class="paginator".*?</nav>', html, re.S).group(0)
    nav = re.sub(r"<h2 .*?</h2>|<[^>]+>", "", nav, flags=re.S)
    return title, re.sub(r"\s+", " ", nav).strip()


@pytest.mark.parametrize("language, title, tab_title, count, heading", [
    ("ru", "Выберите подписку для просмотра", "<title>Выберите подписку для просмотра |", "5 подписок",
     "Постраничная навигация: подписки"),
    ("kk", "Қарау үшін жазылым таңдаңыз", "<title>Қарау үшін жазылым таңдаңыз |", "5 жазылым", "жазылымдар беттері"),
    ("en", "Select subscription to view", "<title>Select subscription to view |", "5 subscriptions",
     "Pagination subscriptions"),
], ids=["ru", "kk", "en"])
def test_the_change_list_names_its_model_in_the_case_and_number_the_sentence_needs(
        staff_in, plan, documents, language, title, tab_title, count, heading):
    """"Выберите подписка для просмотра", "5 подписки", "5 жазылымдар" and "Паджинация
    подписки": Django puts the nominative name into the sentence (soldee.model_names)."""
    from tests.factories import ProfileFactory

    for _ in range(5):
        buy(ProfileFactory().user, plan, documents)
    html = staff_in(language, "/admin/subscriptions/subscription/")
    assert _title_and_count(html) == (title, count)
    assert tab_title in html
    assert f'<h2 id="pagination" class="visually-hidden">{heading}</h2>' in html


@pytest.mark.parametrize("url, ru, kk", [
    ("/admin/billing/payment/", ("Выберите платёж для просмотра", "1 платёж"), ("Қарау үшін төлем таңдаңыз", "1 төлем")),
    ("/admin/accounts/user/", ("Выберите пользователя для изменения", "2 пользователя"),
     ("Өзгерту үшін пайдаланушы таңдаңыз", "2 пайдаланушы")),
    ("/admin/offer/legaldocument/", ("Выберите версию юридического документа для изменения",
                                     "3 версии юридических документов"),
     ("Өзгерту үшін заңдық құжат нұсқасы таңдаңыз", "3 заңдық құжат нұсқасы")),
    ("/admin/refunds/refundrequest/", ("Выберите заявку на возврат для просмотра", "0 заявок на возврат"),
     ("Қарау үшін қайтаруға өтінім таңдаңыз", "0 қайтаруға өтінім")),
], ids=["payment", "user", "legal-document", "refund-request"])
def test_other_change_lists(staff_in, customer, plan, documents, url, ru, kk):
    buy(customer, plan, documents)
    assert _title_and_count(staff_in("ru", url)) == ru
    assert _title_and_count(staff_in("kk", url)) == kk


def test_every_model_of_the_admin_has_its_counted_forms():
    """A model added to the admin must give its "%(count)s …" forms (soldee.model_names)."""
    from django.contrib import admin

    from soldee.model_names import COUNTED

    assert sorted(m._meta.label_lower for m in admin.site._registry) == sorted(COUNTED)


@pytest.mark.parametrize("language, title", [
    ("kk", "Төлем таңдаңыз"), ("ru", "Выберите платёж"), ("en", "Select payment"),
])
def test_a_popup_s_title_starts_with_a_capital(staff_in, language, title):
    """Kazakh puts the name first ("%s таңдаңыз"): the popup's heading read "төлем таңдаңыз"."""
    html = staff_in(language, "/admin/billing/payment/?_popup=1")
    assert _title_and_count(html)[0] == title
    assert f"<title>{title} |" in html
