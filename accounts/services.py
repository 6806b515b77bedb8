from django.db import transaction

from soldee import events
from soldee.models import Event

from .models import CustomerProfile, PersonalDataConsent


def client_ip(request) -> str | None:
    """The client's address; behind reverse proxies as ALLAUTH_TRUSTED_PROXY_COUNT says."""
    from allauth.account.adapter import get_adapter
    from django.core.exceptions import PermissionDenied

    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None


def consent_record(*, user, request) -> PersonalDataConsent:
    from offer.models import LegalDocument
    from offer.services import document_in_force

    policy = document_in_force(LegalDocument.Kind.PRIVACY)
    with transaction.atomic():
        consent = PersonalDataConsent.objects.create(
            user=user, policy=policy, ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:1000],
        )
        events.record(verb="consent.given", subject=consent, customer=user, actor=user,
                      actor_kind=Event.ActorKind.CUSTOMER,
                      data={"policy": policy.label if policy else None})
    return consent


def profile_save(*, form, user) -> CustomerProfile:
    """Save the customer's details. Contracts already concluded keep their snapshot."""
    with transaction.atomic():
        profile = form.save(commit=False)
        created = profile.pk is None
        profile.user = user
        profile.save()
        events.record(verb="profile.created" if created else "profile.updated", subject=profile,
                      customer=user, actor=user, actor_kind=Event.ActorKind.CUSTOMER,
                      data={"fields": sorted(form.changed_data)})
    return profile
