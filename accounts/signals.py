"""Signal receivers (connected in AccountsConfig.ready)."""


def totp_activated_counts_as_mfa(sender, request, user, authenticator, **kwargs):
    """Activating TOTP means typing a valid code: the session has used a second factor,
    so a staff member who just set it up is not asked for another code at once."""
    from allauth.account.internal.flows.login import record_authentication
    from allauth.mfa.models import Authenticator

    if request is not None and authenticator.type == Authenticator.Type.TOTP:
        record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
