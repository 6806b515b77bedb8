"""The admin's pages name our models in the case the sentence needs and start with a
capital: the "Add …" button and the add page, the search heading, the delete action, the
delete confirmations and their summary (soldee.model_names, the soldee_admin template tags,
templates/admin). Django put the nominative name into Russian sentences ("Добавить группа",
"Искать пользователи", "удалить объект типагруппа"Бух"", "удалить группа?") and Kazakh,
which names the object first, started them with a small letter ("топ қосу")."""

import re
from datetime import date

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.utils import translation

from refunds.models import CalendarException

pytestmark = pytest.mark.django_db

GROUPS = "/admin/auth/group/"
EXCEPTIONS = "/admin/refunds/calendarexception/"


def _text(fragment):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment)).strip()


def _page(response):
    assert response.status_code == 200
    html = response.content.decode()
    found = {
        "title": re.search(r"<h1>(.*?)</h1>", html, re.S),
        "add": re.search(r'<ul class="object-tools">.*?class="addlink">(.*?)</a>', html, re.S),
        "breadcrumb": re.search(r'<li aria-current="page">(.*?)</li>', html, re.S),
        "search": re.search(r'<h2 id="changelist-search-form"[^>]*>(.*?)</h2>', html, re.S),
        "delete action": re.search(r'<option value="delete_selected">(.*?)</option>', html, re.S),
        "question": re.search(r'<div id="content-main">\s*<p>(.*?)</p>|<div id="content"[^>]*>.*?</div>\s*<p>(.*?)</p>',
                              html, re.S),
        "summary": re.search(r"<h2>[^<]*</h2>\s*<ul>(.*?)</ul>", html, re.S),
    }
    page = {key: _text(next(g for g in match.groups() if g is not None)) for key, match in found.items() if match}
    if found["summary"]:
        page["summary"] = [_text(item) for item in re.findall(r"<li>(.*?)</li>", found["summary"].group(1), re.S)]
    return page


@pytest.mark.parametrize("language, add, search, action", [
    ("ru", "Добавить группу", "Искать группы", "Удалить выбранные группы"),
    ("kk", "Топ қосу", "Іздеу: топтар", "Топтар: таңдалғандарын жою"),
    ("en", "Add group", "Search groups", "Delete selected groups"),
])
def test_a_change_list_names_the_model_as_an_object(staff_in, language, add, search, action):
    """Django's "Добавить группа", "топ қосу", "топтар: таңдалғандарын жою"."""
    Group.objects.create(name="Бухгалтерия")
    page = _page(staff_in(language).get(GROUPS))
    assert (page["add"], page["search"], page["delete action"]) == (add, search, action)


@pytest.mark.parametrize("language, add, search", [
    ("ru", "Добавить пользователя", "Искать пользователей"),
    ("kk", "Пайдаланушы қосу", "Іздеу: пайдаланушылар"),
])
def test_an_animate_name_is_an_object_in_the_genitive(staff_in, language, add, search):
    """Django's "Добавить пользователь", "Искать пользователи"."""
    page = _page(staff_in(language).get("/admin/accounts/user/"))
    assert (page["add"], page["search"]) == (add, search)


def test_the_delete_action_agrees_with_an_animate_plural():
    """No admin lets staff delete users, but the label would read right: Django's "Удалить
    выбранные пользователи"."""
    from accounts.models import User
    from soldee.model_names import delete_selected_action

    with translation.override("ru"):
        assert delete_selected_action(User._meta) == "Удалить выбранных пользователей"
    with translation.override("kk"):
        assert delete_selected_action(User._meta) == "Пайдаланушылар: таңдалғандарын жою"


@pytest.mark.parametrize("language, title, breadcrumb", [
    ("ru", "Добавление: группа", "Добавить группу"),
    ("kk", "Топ қосу", "Топ қосу"),
    ("en", "Add group", "Add group"),
])
def test_the_add_page(staff_in, language, title, breadcrumb):
    """Django's breadcrumb "Добавить группа"; its Kazakh title "топ қосу" (Russian's
    "Добавление: группа" reads right as it is)."""
    response = staff_in(language).get(f"{GROUPS}add/")
    page = _page(response)
    assert (page["title"], page["breadcrumb"]) == (title, breadcrumb)
    assert f"<title>{title} |" in response.content.decode()


@pytest.mark.parametrize("language, title", [("kk", "Өзгерту: топ"), ("ru", "Изменение: группа")])
def test_the_change_page_s_title_starts_with_a_capital(staff_in, language, title):
    """Kazakh's "Топ өзгерту" named the object being changed without the accusative; the
    title reads as Russian's does ("Изменение: группа")."""
    group = Group.objects.create(name="Бухгалтерия")
    assert _page(staff_in(language).get(f"{GROUPS}{group.pk}/change/"))["title"] == title


@pytest.mark.parametrize("language, title", [("kk", "Қарау: төлем"), ("ru", "Просмотр: платёж")])
def test_the_view_page_s_title(staff_in, customer, plan, documents, language, title):
    """A model staff may only view (payments): Kazakh's "Төлем қарау" lacked the accusative
    ("Төлемді қарау"); it reads as Russian's "Просмотр: платёж" (locale_vendor/kk)."""
    from tests.billing.helpers import buy

    payment = buy(customer, plan, documents)
    response = staff_in(language).get(f"/admin/billing/payment/{payment.pk}/change/")
    assert _page(response)["title"] == title
    assert f" | {title} | " in re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1)


@pytest.mark.parametrize("language, question, summary", [
    ("ru", "Вы уверены, что хотите удалить группу «Бухгалтерия»? Вместе с этим будут удалены все следующие "
           "связанные объекты:", ["1 группа"]),
    ("kk", "«Бухгалтерия» тобын жойғыңыз келетініне сенімдісіз бе? Мына байланысты нысандардың бәрі де жойылады:",
     ["1 топ"]),
    ("en", "Are you sure you want to delete the group “Бухгалтерия”? All of the following related items will be "
           "deleted:", ["1 group"]),
])
def test_deleting_one_object_asks_about_it_as_an_object(staff_in, language, question, summary):
    """Django's "Вы уверены, что хотите удалить объект типагруппа"Бухгалтерия"?" and
    "Группы: 1"; Kazakh's "топ «Бухгалтерия» жойғыңыз…" (the name before the group's,
    and without the accusative: «"Бухгалтерия" тобын»)."""
    group = Group.objects.create(name="Бухгалтерия")
    page = _page(staff_in(language).get(f"{GROUPS}{group.pk}/delete/"))
    assert (page["question"], page["summary"]) == (question, summary)


@pytest.mark.parametrize("language, title, sentence", [
    ("ru", "Не удается удалить группу",
     "Чтобы удалить группу «Бухгалтерия», придётся удалить и следующие защищённые связанные объекты:"),
    ("kk", "Топты жою мүмкін емес",
     "«Бухгалтерия» тобын жою үшін мына қорғалған байланысты нысандарды да жою қажет:"),
])
def test_a_refused_deletion_of_one_object(staff_in, monkeypatch, language, title, sentence):
    """No model of ours protects a group; the page as it would read when one did (Django's
    "Не удается удалить группа", "Удаление объекта типа группа"Бухгалтерия" …")."""
    group = Group.objects.create(name="Бухгалтерия")
    monkeypatch.setattr(admin.site._registry[Group], "get_deleted_objects",
                        lambda objs, request: ([], {}, set(), ["Пример"]))
    page = _page(staff_in(language).get(f"{GROUPS}{group.pk}/delete/"))
    assert (page["title"], page["question"]) == (title, sentence)


def _exceptions(count):
    return [CalendarException.objects.create(date=date(2030, 1, 1 + i), kind="day_off", note=f"d{i}")
            for i in range(count)]


@pytest.mark.parametrize("language, count, question, summary", [
    ("ru", 1, "Вы уверены, что хотите удалить группу? Все следующие объекты и связанные с ними элементы будут "
              "удалены:", ["1 группа"]),
    ("ru", 2, "Вы уверены, что хотите удалить группы? Все следующие объекты и связанные с ними элементы будут "
              "удалены:", ["2 группы"]),
    ("kk", 1, "Таңдалған топты жойғыңыз келетініне сенімдісіз бе? Мына нысандар мен олармен байланысты барлық "
              "элементтер жойылады:", ["1 топ"]),
    ("kk", 2, "Таңдалған топтарды жойғыңыз келетініне сенімдісіз бе? Мына нысандар мен олармен байланысты барлық "
              "элементтер жойылады:", ["2 топ"]),
    ("en", 1, "Are you sure you want to delete the selected group? All of the following objects and their related "
              "items will be deleted:", ["1 group"]),
])
def test_the_delete_action_asks_about_the_selected_objects(staff_in, language, count, question, summary):
    """Django's "Вы уверены, что хотите удалить группа?" and "Группы: 1", "Топтар: 2";
    Kazakh's "Таңдалған топтар жойғыңыз…" (the object without the accusative)."""
    groups = [Group.objects.create(name=f"G{i}") for i in range(count)]
    page = _page(staff_in(language).post(GROUPS, {"action": "delete_selected",
                                                  "_selected_action": [g.pk for g in groups]}))
    assert (page["question"], page["summary"]) == (question, summary)
    assert Group.objects.count() == count  # asked, not deleted


@pytest.mark.parametrize("language, summary", [
    ("ru", ["5 исключений производственного календаря"]), ("kk", ["5 өндірістік күнтізбедегі ерекшелік"]),
])
def test_the_summary_counts_in_the_number_s_form(staff_in, language, summary):
    """Django's "Исключения производственного календаря: 5"."""
    rows = _exceptions(5)
    page = _page(staff_in(language).post(EXCEPTIONS, {"action": "delete_selected",
                                                      "_selected_action": [row.pk for row in rows]}))
    assert page["summary"] == summary


@pytest.mark.parametrize("language, title, sentence", [
    ("ru", "Не удается удалить группу",
     "Если удалить группу, будут удалены и связанные объекты, но у вашей учётной записи нет прав на удаление "
     "объектов следующих типов:"),
    ("kk", "Топты жою мүмкін емес",
     "Таңдалған топты жойсаңыз, байланысты нысандар да жойылады, бірақ тіркелгіңізде мына түрдегі нысандарды жоюға "
     "рұқсат жоқ:"),
])
def test_a_refused_delete_action(staff_in, monkeypatch, language, title, sentence):
    """The page as it would read when a related object could not be deleted (Django's
    "Удаление выбранной группа приведет …", "Не удается удалить группа")."""
    group = Group.objects.create(name="Бухгалтерия")
    monkeypatch.setattr(admin.site._registry[Group], "get_deleted_objects",
                        lambda objs, request: ([], {}, {"пример"}, []))
    page = _page(staff_in(language).post(GROUPS, {"action": "delete_selected", "_selected_action": [group.pk]}))
    assert (page["title"], page["question"]) == (title, sentence)


@pytest.mark.parametrize("url, language, add, action", [
    ("/admin/account/emailaddress/", "kk", "Электрондық пошта мекенжайы қосу",
     "Электрондық пошта мекенжайлары: таңдалғандарын жою"),
    ("/admin/mfa/authenticator/", "kk", "Екі факторлы аутентификация тәсілі қосу",
     "Екі факторлы аутентификация тәсілдері: таңдалғандарын жою"),
    ("/admin/mfa/authenticator/", "ru", "Добавить способ двухфакторной аутентификации",
     "Удалить выбранные способы двухфакторной аутентификации"),
])
def test_allauth_s_admins_name_their_models_as_ours_do(staff_in, customer, url, language, add, action):
    """allauth registers them; accounts.admin wraps them in ModelNamesAdminMixin (Django's
    "электрондық пошта мекенжайлары: таңдалғандарын жою")."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    EmailAddress.objects.get_or_create(user=customer, email=customer.email)
    Authenticator.objects.create(user=customer, type=Authenticator.Type.TOTP, data={})
    page = _page(staff_in(language).get(url))
    assert (page["add"], page["delete action"]) == (add, action)


@pytest.mark.parametrize("language, alt", [("ru", "Найти"), ("kk", "Іздеу")])
def test_the_search_icons_text_is_in_the_staff_language(staff_in, language, alt):
    """The magnifier's alternative text (what a screen reader says) was 'Search' in every
    language: templates/admin/search_form.html, a copy of Django's, left it untranslated."""
    html = staff_in(language).get(GROUPS).content.decode()
    assert f'admin/img/search.svg" alt="{alt}">' in html


@pytest.mark.parametrize("language, title", [("kk", "Бірнеше нысанды жою"), ("ru", "Удалить несколько объектов")])
def test_the_delete_action_s_page_title(staff_in, language, title):
    """Django's kk "Бірнеше объекттерді өшіру" (misspelt, and not the admin's words for
    object and delete); locale_vendor/kk corrects it."""
    group = Group.objects.create(name="Бухгалтерия")
    html = staff_in(language).post(GROUPS, {"action": "delete_selected", "_selected_action": [group.pk]}).content.decode()
    assert f"<title>{title} |" in html


def test_a_kazakh_refused_deletion_of_one_object_without_permission(staff_in, monkeypatch):
    """The page when a related object may not be deleted: «"Бух" тобын жойсаңыз» (Django's
    «топ «Бух» жойылса»)."""
    group = Group.objects.create(name="Бухгалтерия")
    monkeypatch.setattr(admin.site._registry[Group], "get_deleted_objects",
                        lambda objs, request: ([], {}, {"пример"}, []))
    page = _page(staff_in("kk").get(f"{GROUPS}{group.pk}/delete/"))
    assert (page["title"], page["question"]) == (
        "Топты жою мүмкін емес",
        "«Бухгалтерия» тобын жойсаңыз, байланысты нысандар да жойылады, бірақ тіркелгіңізде мына түрдегі нысандарды "
        "жоюға рұқсат жоқ:")


@pytest.mark.parametrize("label, accusative, plural, named", [
    ("auth.group", "топты", "топтарды", "тобын"),
    ("accounts.user", "пайдаланушыны", "пайдаланушыларды", "пайдаланушысын"),
    ("plans.plan", "тарифті", "тарифтерді", "тарифін"),
    ("billing.payment", "төлемді", "төлемдерді", "төлемін"),
    ("billing.paymentmethod", "сақталған картаны", "сақталған карталарды", "сақталған картасын"),
    ("billing.exchangerate", "валюта бағамын", "валюта бағамдарын", "валюта бағамын"),
    ("offer.agreementcopy", "шарт көшірмесін (PDF)", "шарт көшірмелерін (PDF)", "шарт көшірмесін (PDF)"),
    ("accounts.accountdeletionrequest", "тіркелгіні жою туралы сұрауды", "тіркелгілерді жою туралы сұрауларды",
     "тіркелгіні жою туралы сұрауын"),
    ("refunds.calendarexception", "өндірістік күнтізбедегі ерекшелікті", "өндірістік күнтізбедегі ерекшеліктерді",
     "өндірістік күнтізбедегі ерекшелігін"),
    ("refunds.refundrequest", "қайтаруға өтінімді", "қайтаруға өтінімдерді", "қайтаруға өтінімін"),
    ("refunds.errorreport", "сыни қате туралы хабарламаны", "сыни қателер туралы хабарламаларды",
     "сыни қате туралы хабарламасын"),
])
def test_kazakh_names_as_the_object_of_a_deletion(label, accusative, plural, named):
    """soldee.kk_grammar builds the endings from the Kazakh verbose names: the accusative by
    the last sound and vowel harmony, an izafet compound's «-н», «п» voiced to «б» before a
    vowel («тобын»), a parenthesis kept after the ending."""
    from django.apps import apps

    from soldee import model_names

    opts = apps.get_model(label)._meta
    with translation.override("kk"):
        assert (model_names._objects(opts, 1), model_names._objects(opts, 2), model_names._named_object(opts)) == (
            accusative, plural, named)
