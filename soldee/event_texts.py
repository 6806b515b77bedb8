"""What each event verb means to the customer, in plain language (the account history).
Verbs not listed (staff-internal ones) are not shown to customers."""

from django.utils.translation import gettext_lazy as _

CUSTOMER_TEXTS = {
    "consent.given": _("You consented to the processing of your personal data"),
    "consent.withdrawn": _("You withdrew your consent to the processing of personal data"),
    "profile.created": _("You filled in your customer details"),
    "profile.updated": _("You changed your customer details"),
    "profile.changed_by_staff": _("Our staff changed your customer details"),
    "payment.created": _("A payment was started"),
    "payment.succeeded": _("Payment received"),
    "payment.bank_deciding": _("The bank is deciding a payment"),
    "payment.failed": _("A payment was declined"),
    "payment.expired": _("An unfinished payment was cancelled"),
    "payment.refunded": _("The payment was refunded"),
    "card.saved": _("Your card was saved for renewals"),
    "card.refused": _("Your bank refused the saved card for good: renewals no longer charge it"),
    "offer.accepted": _("The agreement was concluded (the offer was accepted by payment)"),
    "offer.amendment_accepted": _("The amended offer was accepted by continued use (a renewal after it took effect)"),
    "subscription.started": _("Your subscription started"),
    "term.started": _("A new paid term started"),
    "access.granted": _("Access to the AI agent was granted"),
    "access.deadline_missed": _("Access was not granted within 30 minutes"),
    "access.revoked": _("Access to the AI agent was closed"),
    "access.key_issued": _("An access key for the AI agent was created"),
    "access.key_revoked": _("An access key for the AI agent was revoked"),
    "subscription.renewal_cancelled": _("Automatic renewal was turned off"),
    "subscription.renewal_resumed": _("Automatic renewal was turned back on"),
    "renewal.charge_started": _("Renewal: we are charging your saved card"),
    "subscription.renewed": _("Your subscription was renewed for 30 days"),
    "renewal.failed": _("Renewal payment failed"),
    "subscription.ended": _("Your subscription ended"),
    "subscription.next_term_refunded": _("The next term was refunded: the subscription ends with the current term"),
    "document.receipt_issued": _("A receipt was issued"),
    "document.refund_note_issued": _("A refund note was issued"),
    "document.invoice_issued": _("An invoice was issued"),
    "document.invoice_paid": _("Your bank transfer was received"),
    "agreement_copy.requested": _("You requested a paper copy of the agreement"),
    "agreement_copy.ready": _("The copy of the agreement is ready"),
    "agreement_copy.printed": _("The copy of the agreement was printed"),
    "agreement_copy.posted": _("The copy of the agreement was posted"),
    "error_report.created": _("You reported an error"),
    "error_report.confirmed": _("We confirmed the error as critical"),
    "error_report.not_critical": _("We found the error not critical"),
    "error_report.resolved": _("The error was resolved"),
    "error_report.deadline_missed": _("The error was not resolved within 5 business days: you may request a refund"),
    "error_report.deadline_changed": _("The resolution deadline moved (business-day calendar change)"),
    "refund_request.created": _("You requested a refund"),
    "refund_request.opened_for_customer": _("We opened a refund request for a payment that started no paid term"),
    "refund_request.approved": _("The refund was approved"),
    "refund_request.rejected": _("The refund request was rejected"),
    "refund_request.withdrawn": _("The refund request was withdrawn"),
    "refund.created": _("The refund is being paid back"),
    "refund.awaiting_transfer": _("The refund will be paid back by bank transfer to the account you paid from"),
    "refund.transfer_recorded": _("The refund was paid back by bank transfer"),
    "refund.succeeded": _("The money was returned"),
    "refund.failed": _("The payment gateway refused the refund; our staff are on it"),
    "data_export.requested": _("You asked for a copy of your data"),
    "data_export.ready": _("Your data export is ready"),
    "account.deletion_requested": _("You asked to delete your account"),
    "account.deletion_rejected": _("Your account deletion request was declined"),
    "offer.amendment_notice_dismissed": _("You read the notice about the amended offer"),
}


# The same events as staff read them (admin timelines): in the third person, and the
# events only staff see.
STAFF_TEXTS = {
    "consent.given": _("The customer consented to the processing of personal data"),
    "consent.withdrawn": _("The customer withdrew consent to the processing of personal data"),
    "profile.created": _("The customer filled in their details"),
    "profile.updated": _("The customer changed their details"),
    "card.saved": _("The customer's card was saved for renewals"),
    "card.refused": _("The bank refused the customer's saved card for good: renewals no longer charge it"),
    "subscription.started": _("The subscription started"),
    "subscription.renewed": _("The subscription was renewed for 30 days"),
    "subscription.ended": _("The subscription ended"),
    "document.invoice_paid": _("The customer's bank transfer was received"),
    "agreement_copy.requested": _("The customer requested a paper copy of the agreement"),
    "error_report.created": _("The customer reported an error"),
    "refund_request.created": _("The customer requested a refund"),
    "staff.viewed": _("Viewed by staff"),
    "evidence.exported": _("Staff exported the customer's evidence bundle"),
    "evidence.pdfs_rendered": _("The PDFs missing from the customer's evidence bundle were rendered at staff's "
                                "request"),
    "profile.changed_by_staff": _("Staff changed the customer's details"),
    "renewal.charge_started": _("Renewal: the saved card is being charged"),
    "error_report.deadline_missed": _("The error was not resolved within 5 business days: a refund may be "
                                      "requested"),
    "refund.awaiting_transfer": _("The refund is to be paid back by bank transfer to the account the customer "
                                  "paid from"),
    "data_export.requested": _("The customer asked for a copy of their data"),
    "data_export.ready": _("The customer's data export is ready"),
    "account.deletion_requested": _("The customer asked to delete their account"),
    "account.deletion_rejected": _("The customer's account deletion request was declined"),
    "offer.amendment_notice_dismissed": _("The customer read the notice about the amended offer"),
    "error_report.confirmed": _("Staff confirmed the error as critical"),
    "error_report.not_critical": _("Staff found the error not critical"),
    "refund_request.opened_for_customer": _("A refund request was opened for a payment that started no paid term"),
    "refund.failed": _("The payment gateway refused the refund"),
    # Events only staff see (the customer's history does not list them).
    "account.anonymised": _("The customer's account was deleted and their personal data anonymised"),
    "agreement_copy.rendering": _("The copy of the agreement is being prepared"),
    "agreement_copy.failed": _("Preparing the copy of the agreement failed; it will be retried"),
    "calendar.exception_saved": _("A business-day calendar exception was saved"),
    "calendar.exception_removed": _("A business-day calendar exception was removed"),
    "card.erased": _("The customer's saved card was erased"),
    "data_export.expired": _("The customer's data export expired and was deleted"),
    "data_export.build_again": _("Staff had the customer's data export built again"),
    "document.receipt_rendered": _("The receipt's PDF was rendered"),
    "document.refund_note_rendered": _("The refund note's PDF was rendered"),
    "document.invoice_rendered": _("The invoice's PDF was rendered"),
    "document.published": _("A legal document version was published"),
    "error_report.triage_overdue": _("The error report was not triaged by its deadline"),
    "exchange_rate.imported": _("An exchange rate was imported from the National Bank"),
    "exchange_rate.entered": _("Staff entered an exchange rate by hand"),
    "payment.duplicate_purchase": _("A second payment for a plan already bought: it bought nothing, to be refunded"),
    "payment.unapplied_renewal": _("A renewal payment that started no term: to be refunded"),
    "payment.unapplied_closed_account": _("A payment received after the account was deleted: to be refunded"),
    "payment.second_transaction": _("A second gateway transaction for one payment: to be refunded"),
    "payment.settlement_refused": _("A gateway's answer could not be matched to the payment"),
    "plan.created": _("Staff created the plan"),
    "plan.changed": _("Staff changed the plan"),
    "refund.executing": _("The refund is being sent to the payment gateway"),
    "refund.gateway_error": _("The payment gateway's answer to the refund was lost: check it at the gateway"),
    "renewal.deferred": _("Renewal deferred: no usable exchange rate"),
    "renewal.deferral_notice": _("The customer was told the renewal is deferred"),
    "renewal.retry_requested": _("Staff asked to charge the renewal again now"),
    "renewal.staff_try_declined": _("The renewal charge staff asked for was declined"),
    "test_clock.advanced": _("Staff advanced the customer's test clock"),
}

# Wordings that depend on the event's data: {(data key, value): {verb: text}}.
CUSTOMER_VARIANTS = {
    # A customer with no saved card (paying by invoice): the renewal that comes due asks no card.
    ("card", False): {
        "renewal.charge_started": _("Renewal: the next term is due; with no saved card, pay it from your account"),
    },
    # The refunded next term's access withdrawn; the term in use keeps its own.
    ("next_term", True): {
        "access.revoked": _("Access for the cancelled next term was withdrawn; the term in use keeps its access"),
    },
    # A renewal paid ahead: its term begins when the term in use ends.
    ("ahead", True): {
        "term.started": _("The next paid term was paid; it begins when the current one ends"),
    },
    # The gateway refused to return a card payment: accounting pays it back by bank transfer.
    ("card_refused", True): {
        "refund.awaiting_transfer": _("The card refund was refused by the payment gateway: the refund will be paid "
                                      "back by bank transfer to the account you give us"),
    },
    # Staff found access passed to a third party (clause 8).
    ("transferred", True): {
        "access.key_revoked": _("Soldee revoked your access key for the AI agent (passing access to third parties "
                                "is prohibited, clause 8)"),
    },
}
STAFF_VARIANTS = {
    ("card_refused", True): {"refund.awaiting_transfer": _("The card refund was refused by the payment gateway: "
                                                           "it is to be paid back by bank transfer")},
    ("card", False): {"renewal.charge_started": _("Renewal due: no saved card to charge")},
    ("ahead", True): {"term.started": _("The next paid term was paid; it begins when the current one ends")},
    ("next_term", True): {"access.revoked": _("Access for the cancelled next term was withdrawn; the term in use "
                                              "keeps its access")},
}


# Coded values in event data read by staff in words: {(data key, stored value): text}. Most
# codes are a model's choices (staff_value looks them up); these are not.
STAFF_VALUES = {
    ("opened_for", "unapplied_payment"): _("a payment that started no paid term"),
    ("cause", "currency"): _("no payment currency"),
    ("cause", "rate"): _("no usable exchange rate"),
    # What brought a gateway's answer on a payment (billing.services: payment_apply_result's source).
    ("source", "return"): _("the customer's return from the payment page"),
    ("source", "lookup"): _("a check at the payment gateway"),
    ("source", "checkout"): _("the checkout's charge of the saved card"),
    ("source", "renewal"): _("the renewal charge"),
    ("source", "reconcile"): _("the renewals' check at the payment gateway"),
}

# Coded values with a reference after a colon ("notification:evt-1"): {(data key, prefix): text
# with %(ref)s}.
STAFF_PREFIXED_VALUES = {
    ("source", "notification"): _("the payment gateway's notification %(ref)s"),
    ("source", "invoice"): _("the bank transfer for invoice %(ref)s"),
}

# The model field whose choices a data key's codes come from, when the event's subject has
# no field of that name: {data key: (model label, field name)}.
_CHOICES_OF = {
    "ground": ("refunds.refundrequest", "ground"),
    "severity": ("refunds.errorreport", "severity"),
    "reason": ("subscriptions.subscription", "end_reason"),
}


def _choice_label(model_label: str, field_name: str, value: str):
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist

    try:
        field = apps.get_model(model_label)._meta.get_field(field_name)
    except (LookupError, ValueError, FieldDoesNotExist):
        return None
    return dict(field.flatchoices).get(value) if getattr(field, "choices", None) else None


def staff_value(key: str, value, subject_type: str = ""):
    """A coded value of an event's data in words for staff ("no_access": "Access to the
    service was not granted"), or None when it is not a known code (shown as stored). The
    codes stay what is stored: the event log is never rewritten."""
    if not isinstance(value, str) or not value:
        return None
    if (key, value) in STAFF_VALUES:
        return STAFF_VALUES[key, value]
    prefix, colon, ref = value.partition(":")
    if colon and (key, prefix) in STAFF_PREFIXED_VALUES:
        return STAFF_PREFIXED_VALUES[key, prefix] % {"ref": ref}
    if key == "gateway":
        from billing.gateways import DISPLAY_NAMES

        return DISPLAY_NAMES.get(value)
    if key == "purpose":
        from billing import purposes

        label = purposes.label_for(value)
        return label if label != value else None
    if key == "model" and "." in value:  # staff.viewed: the model of the page opened
        from django.apps import apps

        try:
            return apps.get_model(value)._meta.verbose_name
        except (LookupError, ValueError):
            return None
    own_field = "status" if key in ("from", "to", "was") else key  # a status change: the subject's statuses
    if subject_type and (label := _choice_label(subject_type, own_field, value)) is not None:
        return label
    if key in _CHOICES_OF:
        return _choice_label(*_CHOICES_OF[key], value)
    return None


def staff_verb(verb: str, data: dict | None = None):
    """The event in words for staff, or its code when none is written for it."""
    return staff_text(verb, data) or verb


def _variant(variants: dict, verb: str, data: dict | None):
    for (key, value), texts in variants.items():
        if verb in texts and (data or {}).get(key) == value:
            return texts[verb]
    return None


def customer_text(verb: str, data: dict | None = None):
    return _variant(CUSTOMER_VARIANTS, verb, data) or CUSTOMER_TEXTS.get(verb)


def staff_text(verb: str, data: dict | None = None):
    return _variant(STAFF_VARIANTS, verb, data) or STAFF_TEXTS.get(verb) or CUSTOMER_TEXTS.get(verb)
