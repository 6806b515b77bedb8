from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = _("Refunds")

    def ready(self):
        from soldee import business_days

        from .selectors import calendar_exceptions

        # Staff-entered days off and transferred working days override the `holidays`
        # package in every deadline the portal computes.
        business_days.set_exceptions_provider(calendar_exceptions)

        from subscriptions.services import on_unapplied_payment

        # A paid payment that bought nothing gets a refund request for staff to decide.
        on_unapplied_payment(_open_refund_request)

        from subscriptions.services import on_renewal_resumed

        from .services import next_term_requests_withdraw

        # Renewal back on keeps the paid-ahead term: a request for its money back is withdrawn.
        on_renewal_resumed(next_term_requests_withdraw)


def _open_refund_request(payment_id: int) -> None:
    from . import tasks

    tasks.refund_request_for_unapplied.delay(payment_id)
