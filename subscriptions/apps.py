from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = _("Subscriptions")

    def ready(self):
        from billing import purposes

        from . import renewals, services

        purposes.register(services.PURPOSE_CHECKOUT, on_settled=services.term_start_paid, label=_("Purchase"),
                          receipt_details=services.terms_for_receipts, labels=renewals.renewals_by_invoice,
                          matching=renewals.purchase_payments)
        purposes.register(renewals.PURPOSE_RENEWAL, on_settled=renewals.renewal_paid,
                          on_settled_many=renewals.renewals_paid,
                          on_failed=renewals.renewal_declined, label=_("Renewal"),
                          receipt_details=services.terms_for_receipts, matching=renewals.renewal_payments)
