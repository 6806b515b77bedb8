from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Customers")

    def ready(self):
        from allauth.mfa import signals as mfa_signals

        from . import signals

        mfa_signals.authenticator_added.connect(
            signals.totp_activated_counts_as_mfa, dispatch_uid="accounts.totp_activated_counts_as_mfa")
