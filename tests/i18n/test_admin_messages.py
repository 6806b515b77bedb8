"""Django's own admin messages about our models read as Russian and Kazakh: counted with the
number's form ("2 тарифа", "3 исключения"), the verb in the name's gender ("Группа …
успешно изменена") (soldee.model_names.reworded, ModelNamesAdminMixin). Kazakh has no gender:
its sentences naming one object read as before and are checked so that they stay so."""

import re
from datetime import date

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.utils import translation

from plans.models import Plan
from refunds.models import CalendarException
from soldee.admin import ModelNamesAdminMixin
from soldee.model_names import COUNTED
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db

EXCEPTIONS = "/admin/refunds/calendarexception/"


def _messages(response):
    assert response.status_code == 200
    html = response.content.decode()
    items = re.findall(r'<li class="[a-z]+">(.*?)</li>', re.search(r'<ul class="messagelist">(.*?)</ul>', html,
                                                                   re.S).group(1), re.S)
    return [re.sub(r"<[^>]+>", "", item).strip() for item in items]


def _exceptions(count):
    return [CalendarException.objects.create(date=date(2030, 1, 1 + i), kind="day_off", note=f"d{i}")
            for i in range(count)]


@pytest.mark.parametrize("language, link", [
    ("ru", "Выбрать все: 3 исключения производственного календаря"),
    ("kk", "Барлығын таңдау: 3 өндірістік күнтізбедегі ерекшелік"),
    ("en", "Select all 3 business-day exceptions"),
])
def test_the_select_all_link_counts_in_the_number_s_form(staff_in, monkeypatch, language, link):
    """Django's "Выбрать все исключения производственного календаря (3)", "Барлық 3
    өндірістік күнтізбедегі ерекшеліктер таңдау"."""
    monkeypatch.setattr(admin.site._registry[CalendarException], "list_per_page", 2)
    _exceptions(3)
    html = staff_in(language).get(EXCEPTIONS).content.decode()
    question = re.search(r'<span class="question hidden">\s*<a role="button" href="#">(.*?)</a>', html, re.S)
    assert question.group(1).strip() == link


@pytest.mark.parametrize("language, counted", [
    ("ru", "3 исключения производственного календаря"),
    ("kk", "3 өндірістік күнтізбедегі ерекшелік"),
    ("en", "3 business-day exceptions"),
])
def test_all_selected_names_the_objects_in_the_number_s_form(staff_in, monkeypatch, language, counted):
    """After "Select all" actions.js shows the page's text: Django's "Выбраны все 3" named
    nothing (found by the browser explorer: "Выбраны все 105")."""
    monkeypatch.setattr(admin.site._registry[CalendarException], "list_per_page", 2)
    _exceptions(3)
    html = staff_in(language).get(EXCEPTIONS).content.decode()
    shown = re.search(r'<span class="all hidden">(.*?)</span>', html, re.S).group(1).strip()
    with translation.override(language):
        expected = translation.ngettext("%(counted)s selected", "All %(counted)s selected", 3) % {"counted": counted}
    assert shown == expected
    assert counted in shown
    if language == "en":
        assert shown == "All 3 business-day exceptions selected"


@pytest.mark.parametrize("language, count, message", [
    ("ru", 2, "Успешно изменено: 2 тарифа."),
    ("ru", 5, "Успешно изменено: 5 тарифов."),
    ("kk", 2, "Сәтті өзгертілді: 2 тариф."),
    ("en", 2, "2 plans were changed successfully."),
])
def test_the_list_s_changes_are_counted_in_the_number_s_form(staff_in, language, count, message):
    """Django's "2 тарифы были успешно изменены", "2 тарифтар сәтті өзгертілді"."""
    plans = [PlanFactory(code=f"p{i}", name=f"P{i}", is_active=True, display_order=i) for i in range(count)]
    data = {"form-TOTAL_FORMS": count, "form-INITIAL_FORMS": count, "form-MIN_NUM_FORMS": 0,
            "form-MAX_NUM_FORMS": 1000, "_save": "Save"}
    for i, plan in enumerate(Plan.objects.order_by("display_order", "pk")):
        data |= {f"form-{i}-id": plan.pk, f"form-{i}-display_order": plan.display_order + 10}
    response = staff_in(language).post("/admin/plans/plan/", data, follow=True)
    assert message in _messages(response)
    assert {p.display_order for p in Plan.objects.filter(pk__in=[p.pk for p in plans])} == {
        i + 10 for i in range(count)}


@pytest.mark.parametrize("language, count, message", [
    ("ru", 1, "Успешно удалено: 1 исключение производственного календаря."),
    ("ru", 5, "Успешно удалено: 5 исключений производственного календаря."),
    ("kk", 5, "Сәтті жойылды: 5 өндірістік күнтізбедегі ерекшелік."),
    ("en", 5, "Successfully deleted 5 business-day exceptions."),
])
def test_the_delete_action_counts_in_the_number_s_form(staff_in, language, count, message):
    """Django's "Успешно удалены 5 исключения производственного календаря" (its plural name)."""
    rows = _exceptions(count)
    response = staff_in(language).post(EXCEPTIONS, {
        "action": "delete_selected", "post": "yes", "_selected_action": [row.pk for row in rows]}, follow=True)
    assert message in _messages(response)
    assert not CalendarException.objects.exists()


@pytest.mark.parametrize("language, button, message", [
    ("ru", "_save", "Группа «Бухгалтерия» успешно изменена."),
    ("ru", "_continue", "Группа «Бухгалтерия» успешно изменена. Ниже её можно изменить снова."),
    ("ru", "_addanother", "Группа «Бухгалтерия» успешно изменена. Ниже можно добавить ещё одну группу."),
    ("kk", "_save", "Топ «Бухгалтерия» сәтті өзгертілді."),
    ("en", "_save", "The group “Бухгалтерия” was changed successfully."),
])
def test_a_change_is_told_with_the_verb_in_the_name_s_gender(staff_in, language, button, message):
    """Django's "Группа “Бухгалтерия“ был успешно изменен": a masculine verb after a
    feminine name."""
    group = Group.objects.create(name="Бухгалтерия-old")
    response = staff_in(language).post(f"/admin/auth/group/{group.pk}/change/",
                                       {"name": "Бухгалтерия", button: "1"}, follow=True)
    assert message in _messages(response)


@pytest.mark.parametrize("language, message", [
    ("ru", "Исключение производственного календаря «2030-01-05» успешно добавлено."),
    ("kk", "Өндірістік күнтізбедегі ерекшелік «2030-01-05» сәтті қосылды."),
])
def test_an_addition_and_a_deletion_are_told_in_the_name_s_gender(staff_in, language, message):
    client = staff_in(language)
    response = client.post(f"{EXCEPTIONS}add/", {"date": "2030-01-05", "kind": "day_off", "note": ""}, follow=True)
    shown = [re.sub(r"«.*?»", "«2030-01-05»", text) for text in _messages(response)]  # the row's own text
    assert message in shown
    exception = CalendarException.objects.get()
    response = client.post(f"{EXCEPTIONS}{exception.pk}/delete/", {"post": "yes"}, follow=True)
    deleted = {"ru": "Исключение производственного календаря «2030-01-05» успешно удалено.",
               "kk": "Өндірістік күнтізбедегі ерекшелік «2030-01-05» сәтті жойылды."}[language]
    assert deleted in [re.sub(r"«.*?»", "«2030-01-05»", text) for text in _messages(response)]


def test_a_subscription_would_be_told_in_the_feminine():
    """The read-only subscription admin never saves, but its messages would agree too."""
    from django.utils.html import format_html

    from subscriptions.models import Subscription

    model_admin = admin.site._registry[Subscription]
    with translation.override("ru"):
        djangos_msgid = "The {name} “{obj}” was changed successfully."  # a variable: not ours to extract
        django_s = format_html(translation.gettext(djangos_msgid),
                               name=Subscription._meta.verbose_name, obj="#7")
        assert str(django_s) == "подписка “#7“ был успешно изменен."  # Django's own
        from soldee.model_names import reworded

        assert reworded(model_admin.opts, django_s) == "подписка «#7» успешно изменена."  # capitalised by the page


def test_every_admin_says_django_s_messages_again():
    """The project's models' admins and allauth's (re-registered by accounts.admin)."""
    without = [model._meta.label_lower for model, model_admin in admin.site._registry.items()
               if not isinstance(model_admin, ModelNamesAdminMixin)]
    assert without == []
    assert {"account.emailaddress", "mfa.authenticator"} < set(COUNTED)
