"""The admin's model names in the grammatical forms Django cannot build from verbose_name.

Django writes "Select %s to change" with the nominative name ("Выберите подписка") and the
change list's count as "<number> <verbose_name or verbose_name_plural>" ("5 платежи",
"3 жазылымдар"). Russian needs the accusative after "Выберите" and the number's own plural
form ("5 платежей"); Kazakh keeps a noun after a numeral singular ("3 жазылым").

ACCUSATIVE lists the models whose Russian name changes in the accusative (feminine names in
-а/-я, animate masculine ones); the others read right as they are. COUNTED lists every model
of the admin: "%(count)s …" with its plural forms. Used by templates/admin/change_list.html,
pagination.html and actions.html (soldee_admin template tags). The admin's other pages naming
the model ("Добавить группу", "Искать пользователей", the delete confirmations) take the
accusative too: see the end of this module.

Django's own messages read the same way: "2 тарифы были успешно изменены" (list_editable),
"Успешно удалены 5 исключения производственного календаря" (the delete action), "Подписка
«…» был успешно изменен" (a feminine name with a masculine verb). GENDER gives the Russian name's gender (Kazakh has none), and `reworded`
recognises these messages of Django's in the staff's language and says them again with the
counted forms and the gendered verbs (ModelNamesAdminMixin, soldee.admin)."""

import re

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import (
    get_language,
    gettext,
    gettext_lazy,
    ngettext,
    ngettext_lazy,
    pgettext_lazy,
)

from soldee import kk_grammar

ACCUSATIVE = {
    "auth.group": pgettext_lazy("accusative", "group"),
    "accounts.user": pgettext_lazy("accusative", "user"),
    "accounts.dataexport": pgettext_lazy("accusative", "personal-data export"),
    "offer.legaldocument": pgettext_lazy("accusative", "legal document version"),
    "offer.agreementcopy": pgettext_lazy("accusative", "agreement copy (PDF)"),
    "billing.paymentmethod": pgettext_lazy("accusative", "saved card"),
    "billing.sandboxtransaction": pgettext_lazy("accusative", "sandbox gateway transaction"),
    "subscriptions.subscription": pgettext_lazy("accusative", "subscription"),
    "subscriptions.renewalattempt": pgettext_lazy("accusative", "renewal attempt"),
    "refunds.refundrequest": pgettext_lazy("accusative", "refund request"),
}

COUNTED = {
    "account.emailaddress": ngettext_lazy("%(count)s email address", "%(count)s email addresses", "count"),
    "mfa.authenticator": ngettext_lazy("%(count)s two-factor authentication method",
                                       "%(count)s two-factor authentication methods", "count"),
    "auth.group": ngettext_lazy("%(count)s group", "%(count)s groups", "count"),
    "soldee.event": ngettext_lazy("%(count)s event", "%(count)s events", "count"),
    "accounts.user": ngettext_lazy("%(count)s user", "%(count)s users", "count"),
    "accounts.customerprofile": ngettext_lazy("%(count)s customer profile", "%(count)s customer profiles", "count"),
    "accounts.personaldataconsent": ngettext_lazy("%(count)s personal-data consent",
                                                  "%(count)s personal-data consents", "count"),
    "accounts.dataexport": ngettext_lazy("%(count)s personal-data export", "%(count)s personal-data exports",
                                         "count"),
    "accounts.accountdeletionrequest": ngettext_lazy("%(count)s account deletion request",
                                                     "%(count)s account deletion requests", "count"),
    "plans.plan": ngettext_lazy("%(count)s plan", "%(count)s plans", "count"),
    "offer.legaldocument": ngettext_lazy("%(count)s legal document version", "%(count)s legal document versions",
                                         "count"),
    "offer.acceptance": ngettext_lazy("%(count)s acceptance", "%(count)s acceptances", "count"),
    "offer.agreementcopyrequest": ngettext_lazy("%(count)s paper copy request",
                                                "%(count)s paper copy requests", "count"),
    "offer.agreementcopy": ngettext_lazy("%(count)s agreement copy (PDF)", "%(count)s agreement copies (PDF)",
                                         "count"),
    "billing.exchangerate": ngettext_lazy("%(count)s exchange rate", "%(count)s exchange rates", "count"),
    "billing.payment": ngettext_lazy("%(count)s payment", "%(count)s payments", "count"),
    "billing.paymentmethod": ngettext_lazy("%(count)s saved card", "%(count)s saved cards", "count"),
    "billing.incomingnotification": ngettext_lazy("%(count)s incoming notification",
                                                  "%(count)s incoming notifications", "count"),
    "billing.sandboxtransaction": ngettext_lazy("%(count)s sandbox gateway transaction",
                                                "%(count)s sandbox gateway transactions", "count"),
    "billing.paymentdocument": ngettext_lazy("%(count)s payment document", "%(count)s payment documents", "count"),
    "billing.documentsequence": ngettext_lazy("%(count)s document number sequence",
                                              "%(count)s document number sequences", "count"),
    "subscriptions.subscription": ngettext_lazy("%(count)s subscription", "%(count)s subscriptions", "count"),
    "subscriptions.accessgrant": ngettext_lazy("%(count)s access grant", "%(count)s access grants", "count"),
    "subscriptions.agentplatformkey": ngettext_lazy("%(count)s agent platform API key",
                                                    "%(count)s agent platform API keys", "count"),
    "subscriptions.renewalattempt": ngettext_lazy("%(count)s renewal attempt", "%(count)s renewal attempts", "count"),
    "subscriptions.agentcredential": ngettext_lazy("%(count)s agent access key", "%(count)s agent access keys",
                                                   "count"),
    "refunds.calendarexception": ngettext_lazy("%(count)s business-day exception",
                                               "%(count)s business-day exceptions", "count"),
    "refunds.errorreport": ngettext_lazy("%(count)s critical-error report", "%(count)s critical-error reports",
                                         "count"),
    "refunds.refundrequest": ngettext_lazy("%(count)s refund request", "%(count)s refund requests", "count"),
    "refunds.refund": ngettext_lazy("%(count)s refund", "%(count)s refunds", "count"),
}


# The plural as an object ("Искать пользователей", "Удалить выбранных пользователей"): an
# animate name's accusative plural is its genitive; the others read right as they are.
ACCUSATIVE_PLURAL = {
    "accounts.user": pgettext_lazy("accusative", "users"),
}


def accusative(opts):
    """The model's name as the object of "Select …" (its verbose name unless listed)."""
    return ACCUSATIVE.get(opts.label_lower, opts.verbose_name)


def accusative_plural(opts):
    """The model's plural name as an object (its verbose plural name unless listed)."""
    return ACCUSATIVE_PLURAL.get(opts.label_lower, opts.verbose_name_plural)


def counted(opts, count: int) -> str:
    """ "5 платежей": the number with the model's name in the form the number takes."""
    phrase = COUNTED.get(opts.label_lower)
    if phrase is None:
        return f"{count} {opts.verbose_name if count == 1 else opts.verbose_name_plural}"  # Django's own
    return phrase % {"count": count}



# The grammatical gender of the model's Russian name; "masculine" unless listed. An animate
# masculine name ("пользователь") is also named as an object in the genitive ("ещё одного
# пользователя"): "masculine animate" where a sentence has the name as its object.
GENDER = {
    "auth.group": "feminine",
    "accounts.user": "masculine animate",
    "accounts.dataexport": "feminine",
    "accounts.personaldataconsent": "neuter",
    "soldee.event": "neuter",
    "offer.legaldocument": "feminine",
    "offer.agreementcopy": "feminine",
    "billing.paymentmethod": "feminine",
    "billing.sandboxtransaction": "feminine",
    "billing.incomingnotification": "neuter",
    "subscriptions.subscription": "feminine",
    "subscriptions.accessgrant": "neuter",
    "subscriptions.renewalattempt": "feminine",
    "refunds.calendarexception": "neuter",
    "refunds.errorreport": "neuter",
    "refunds.refundrequest": "feminine",
}

# Django's messages naming one object (options.ModelAdmin.response_add, response_change,
# response_delete), each as the parts Django joins, and ours in each gender (pgettext: the
# context is the gender; {accusative} is the name as an object, ACCUSATIVE).
_ADDED = "The {name} “{obj}” was added successfully."
NAMED = [
    ((_ADDED, "You may edit it again below."), {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was added successfully. You may edit it again "
                                   "below."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was added successfully. You may edit it again "
                                  "below."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was added successfully. You may edit it again below."),
    }),
    (("The {name} “{obj}” was added successfully. You may add another {name} below.",), {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was added successfully. You may add another "
                                   "{accusative} below."),
        "masculine animate": pgettext_lazy("masculine animate", "The {name} “{obj}” was added successfully. You may "
                                           "add another {accusative} below."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was added successfully. You may add another "
                                  "{accusative} below."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was added successfully. You may add another "
                                "{accusative} below."),
    }),
    ((_ADDED,), {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was added successfully."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was added successfully."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was added successfully."),
    }),
    (("The {name} “{obj}” was changed successfully. You may edit it again below.",), {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was changed successfully. You may edit it again "
                                   "below."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was changed successfully. You may edit it again "
                                  "below."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was changed successfully. You may edit it again "
                                "below."),
    }),
    (("The {name} “{obj}” was changed successfully. You may add another {name} below.",), {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was changed successfully. You may add another "
                                   "{accusative} below."),
        "masculine animate": pgettext_lazy("masculine animate", "The {name} “{obj}” was changed successfully. You "
                                           "may add another {accusative} below."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was changed successfully. You may add another "
                                  "{accusative} below."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was changed successfully. You may add another "
                                "{accusative} below."),
    }),
    (("The {name} “{obj}” was changed successfully.",), {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was changed successfully."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was changed successfully."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was changed successfully."),
    }),
    (("The %(name)s “%(obj)s” was deleted successfully.",), {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was deleted successfully."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was deleted successfully."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was deleted successfully."),
    }),
]


def _in_gender(opts, ours: dict) -> str:
    """Of `ours` (pgettext by gender), the one for the model's name (masculine unless given)."""
    context = GENDER.get(opts.label_lower, "masculine")
    return str(ours.get(context, ours["masculine"]))


def select_all(opts, count: int) -> str:
    """The action bar's "Select all 150 users" (Django's: "Выбрать все пользователи (150)")."""
    return gettext("Select all %(counted)s") % {"counted": counted(opts, count)}


def all_selected(opts, count: int) -> str:
    """The action bar after "Select all": "Выбраны все: 105 групп" (Django's "Выбраны все
    105", no noun; actions.js shows the text the page carries)."""
    return ngettext("%(counted)s selected", "All %(counted)s selected", count) % {"counted": counted(opts, count)}


def _changed(opts, count: int) -> str:
    return ngettext("%(counted)s was changed successfully.", "%(counted)s were changed successfully.",
                    count) % {"counted": counted(opts, count)}


def _deleted(opts, count: int) -> str:
    return gettext("Successfully deleted %(counted)s.") % {"counted": counted(opts, count)}


# Django's messages counting objects (ModelAdmin._save_formset after list_editable, the
# delete_selected action): (msgid, msgid_plural or None, ours).
COUNTED_MESSAGES = [
    ("%(count)s %(name)s was changed successfully.", "%(count)s %(name)s were changed successfully.", _changed),
    ("Successfully deleted %(count)d %(items)s.", None, _deleted),
]

_PLACEHOLDER = re.compile(r"\{(\w+)\}|%\((\w+)\)[sd]")


def _pattern(template: str, literal: dict, captured: str) -> re.Pattern:
    """A regex matching `template` (brace or %-format) with `literal` values put in and
    `captured` caught as a group."""
    parts, seen = [], set()
    for i, piece in enumerate(_PLACEHOLDER.split(template)):
        if i % 3 == 0:
            parts.append(re.escape(piece))
        elif piece is None:
            continue
        elif piece == captured and piece not in seen:
            seen.add(piece)
            parts.append(rf"(?P<{piece}>.+?)" if captured != "count" else r"(?P<count>\d+)")
        elif piece in literal:
            parts.append("(?:" + "|".join(re.escape(value) for value in literal[piece]) + ")")
        else:
            return None
    return re.compile("".join(parts), re.S) if seen else None


def reworded(opts, message):
    """Django's message naming or counting objects of this model, said in the staff's
    language with the name's gender and the number's form; any other message as it is."""
    text = str(message)
    safe = isinstance(message, SafeString)
    name, plural = str(opts.verbose_name), str(opts.verbose_name_plural)
    names = [str(conditional_escape(name))] if safe else [name]
    for parts, ours in NAMED:
        if ("{obj}" in parts[0]) != safe:  # format_html built the brace ones; the deletion is a plain %-string
            continue
        template = " ".join(gettext(part) for part in parts)
        pattern = _pattern(template, {"name": names}, "obj")
        match = pattern and pattern.fullmatch(text)
        if match:
            sentence = _in_gender(opts, ours)
            obj = mark_safe(match["obj"]) if safe else match["obj"]
            return format_html(sentence, name=name, obj=obj, accusative=accusative(opts))
    if safe:
        return message
    for msgid, plural_msgid, ours in COUNTED_MESSAGES:
        templates = {ngettext(msgid, plural_msgid, n) for n in (1, 2, 5, 21)} if plural_msgid else {gettext(msgid)}
        for template in templates:
            pattern = _pattern(template, {"name": [name, plural], "items": [name, plural]}, "count")
            match = pattern and pattern.fullmatch(text)
            if match:
                return ours(opts, int(match["count"]))
    return message


# The admin's pages naming the model (Django's templates change_list_object_tools.html,
# change_form.html, search_form.html, delete_confirmation.html,
# delete_selected_confirmation.html, includes/object_delete_summary.html and the actions'
# list): Django puts the nominative name where the sentence takes an object ("Добавить
# группа", "Искать пользователи", "удалить объект типагруппа"Бух"", "удалить группа?"), and
# Kazakh, which names the object first, starts them with a small letter ("топ қосу"). Django's
# own msgids are used where its translation reads right with the name in the accusative (read
# from variables: not ours to extract); ours below where it does not. Used by the soldee_admin
# template tags and ModelNamesAdminMixin.get_action_choices.
DJANGO_ADD = "Add %(name)s"
DJANGO_SEARCH = "Search %(name)s"
DJANGO_CANNOT_DELETE = "Cannot delete %(name)s"
DJANGO_CONFIRM_DELETE_SELECTED = ("Are you sure you want to delete the selected %(objects_name)s? All of the "
                                  "following objects and their related items will be deleted:")

# The actions' "Delete selected …" (Django's "Удалить выбранные пользователи"): the adjective
# agrees with an animate plural too.
DELETE_SELECTED = {
    "masculine": pgettext_lazy("masculine", "Delete selected {accusative_plural}"),
    "masculine animate": pgettext_lazy("masculine animate", "Delete selected {accusative_plural}"),
}

# Deleting one object (delete_confirmation.html): Django's Russian reads "удалить объект
# типагруппа"Бух"". {accusative}: the model's name as an object (Kazakh's after the object's
# name, possessive and accusative: «"Бух" тобын», _named_object); {obj}: the object.
DELETE_ONE = {
    "confirm": gettext_lazy("Are you sure you want to delete the {accusative} “{obj}”? All of the following "
                            "related items will be deleted:"),
    "forbidden": gettext_lazy("Deleting the {accusative} “{obj}” would result in deleting related objects, but your "
                              "account doesn't have permission to delete the following types of objects:"),
    "protected": gettext_lazy("Deleting the {accusative} “{obj}” would require deleting the following protected "
                              "related objects:"),
}

# Deleting the selected objects (delete_selected_confirmation.html), other than the question
# (Django's, with the accusative): Django's Russian reads "Удаление выбранной группы" whatever
# the name. {objects}: the name as an object, singular or plural.
DELETE_SELECTED_OBJECTS = {
    "forbidden": gettext_lazy("Deleting the selected {objects} would result in deleting related objects, but your "
                              "account doesn't have permission to delete the following types of objects:"),
    "protected": gettext_lazy("Deleting the selected {objects} would require deleting the following protected related "
                              "objects:"),
}


def add_title(opts) -> str:
    """The change list's button and the add page's breadcrumb: "Добавить группу", "Топ қосу"."""
    return capfirst(gettext(DJANGO_ADD) % {"name": accusative(opts)})


def search_heading(opts) -> str:
    """The change list's search form's heading: "Искать пользователей"."""
    return capfirst(gettext(DJANGO_SEARCH) % {"name": accusative_plural(opts)})


def delete_selected_action(opts) -> str:
    """The actions' "Удалить выбранные группы", "Удалить выбранных пользователей", "Топтар:
    таңдалғандарын жою"."""
    return capfirst(_in_gender(opts, DELETE_SELECTED).format(accusative_plural=accusative_plural(opts)))


def _kazakh() -> bool:
    return (get_language() or "").split("-")[0] == "kk"


def _objects(opts, count: int):
    """The name as the object of "delete": Russian's accusative; Kazakh's definite object
    takes the accusative ending ("Таңдалған топтарды жою", "Топты жою мүмкін емес"), which
    Django's "Таңдалған топтар жойғыңыз…" lacked (soldee.kk_grammar)."""
    if _kazakh():
        return kk_grammar.accusative(str(opts.verbose_name if count == 1 else opts.verbose_name_plural))
    return accusative(opts) if count == 1 else accusative_plural(opts)


def _named_object(opts):
    """The name after the object's own name, as the object of "delete": Russian's
    accusative ("удалить группу «Бух»"); Kazakh's possessive accusative after the quoted
    name («"Бух" тобын жою»; Django's «топ «Бух» жойғыңыз…»)."""
    if _kazakh():
        return kk_grammar.possessive_accusative(str(opts.verbose_name))
    return accusative(opts)


def cannot_delete(opts, count: int = 1) -> str:
    """The delete pages' title when the deletion is refused: "Не удается удалить группу"."""
    return capfirst(gettext(DJANGO_CANNOT_DELETE) % {"name": _objects(opts, count)})


def delete_one(opts, which: str, obj) -> str:
    """A sentence of the page deleting one object: DELETE_ONE[which] ("confirm", "forbidden",
    "protected") about `obj`."""
    return capfirst(str(DELETE_ONE[which]).format(accusative=_named_object(opts), obj=obj))


def delete_selected(opts, which: str, count: int) -> str:
    """A sentence of the page deleting the selected `count` objects: "confirm", "forbidden",
    "protected"."""
    if which == "confirm":
        return capfirst(gettext(DJANGO_CONFIRM_DELETE_SELECTED) % {"objects_name": _objects(opts, count)})
    return capfirst(str(DELETE_SELECTED_OBJECTS[which]).format(objects=_objects(opts, count)))


def summary_line(model_name, count: int) -> str:
    """A line of the delete pages' summary, given Django's (verbose_name_plural, count): "3
    исключения производственного календаря", the model's counted form; "Name: count" for a
    model without one (a many-to-many table)."""
    from django.apps import apps

    for model in apps.get_models(include_auto_created=True):
        if model._meta.verbose_name_plural is model_name and model._meta.label_lower in COUNTED:
            return capfirst(counted(model._meta, count))
    return f"{capfirst(model_name)}: {count}"
