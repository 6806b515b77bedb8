"""The admin's model names in the grammatical forms Django cannot build from verbose_name.

Django writes "Select %s to change" with the nominative name ("Выберите подписка") and the
change list's count as "<number> <verbose_name or verbose_name_plural>" ("5 платежи",
"3 жазылымдар"). Russian needs the accusative after "Выберите" and the number's own plural
form ("5 платежей"); Kazakh keeps a noun after a numeral singular ("3 жазылым").

ACCUSATIVE lists the models whose Russian name changes in the accusative (feminine names in
-а/-я, animate masculine ones); the others read right as they are. COUNTED lists every model
of the admin: "%(count)s …" with its plural forms. Used by templates/admin/change_list.html,
pagination.html and actions.html (soldee_admin template tags).

Django's own messages read the same way: "2 тарифы были успешно изменены" (list_editable),
"Успешно удалены 5 исключения производственного календаря" (the delete action), "Подписка
«…» был успешно изменен" (a feminine name with a masculine verb). GENDER gives the Russian name's gender (Kazakh has none), and `reworded`
recognises these messages of Django's in the staff's language and says them again with the
counted forms and the gendered verbs (ModelNamesAdminMixin, soldee.admin)."""

import re

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext, ngettext_lazy, pgettext_lazy

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
    "offer.agreementcopyrequest": ngettext_lazy("%(count)s agreement copy request",
                                                "%(count)s agreement copy requests", "count"),
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


def accusative(opts):
    """The model's name as the object of "Select …" (its verbose name unless listed)."""
    return ACCUSATIVE.get(opts.label_lower, opts.verbose_name)


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


def select_all(opts, count: int) -> str:
    """The action bar's "Select all 150 users" (Django's: "Выбрать все пользователи (150)")."""
    return gettext("Select all %(counted)s") % {"counted": counted(opts, count)}


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
            context = GENDER.get(opts.label_lower, "masculine")
            if context not in ours:
                context = "masculine"
            sentence = str(ours[context])
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
