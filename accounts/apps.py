from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Customers")

    def ready(self):
        from allauth.mfa import signals as mfa_signals
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from . import auth_backends, signals

        for signal in (post_save, post_delete):
            signal.connect(auth_backends.user_changed, sender=get_user_model(),
                           dispatch_uid=f"accounts.user_cache.{signal}")

        mfa_signals.authenticator_added.connect(
            signals.totp_activated_counts_as_mfa, dispatch_uid="accounts.totp_activated_counts_as_mfa")

        from django.contrib.auth.signals import user_logged_in

        from .middleware import remember_customer_language

        user_logged_in.connect(remember_customer_language, dispatch_uid="accounts.customer_language")
