"""The admin's model names in the grammatical forms Django cannot build from verbose_name.

Django writes "Select %s to change" with the nominative name ("Выберите подписка") and the
change list's count as "<number> <verbose_name or verbose_name_plural>" ("5 платежи",
"3 жазылымдар"). Russian needs the accusative after "Выберите" and the number's own plural
form ("5 платежей"); Kazakh keeps a noun after a numeral singular ("3 жазылым").

ACCUSATIVE lists the models whose Russian name changes in the accusative (feminine names in
-а/-я, animate masculine ones); the others read right as they are. COUNTED lists every model
of the admin: "%(count)s …" with its plural forms. Used by templates/admin/change_list.html
and pagination.html (soldee_admin template tags)."""

from django.utils.translation import ngettext_lazy, pgettext_lazy

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
