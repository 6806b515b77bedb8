"""Customers' own keys for the AI agent (clause 8 of the offer: access is tied to the
customer's account, and transfer to third parties is prohibited).

A customer creates a key in the personal account and gives it to their agent; the agent
platform checks it with POST /api/credentials/verify/ (subscriptions.views.
credential_verify_api), which answers whose key it is and whether they are entitled now.
A new key revokes the previous one; the customer or staff may revoke a key at any time
(staff: a transfer to a third party) without touching the subscription. Every change is
an event; the agent platform is told of a revocation when it has a webhook."""

from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from soldee import events
from soldee.locking import lock_customer
from soldee.models import Event

from .models import AgentCredential, Term, key_hash


class CredentialRefused(ValueError):
    pass


def credential_issue(*, customer, by, replaces: str | None = None) -> tuple[AgentCredential, str]:
    """A new key for `customer` (the raw key is returned once and never stored); the
    active one, if any, is revoked in the same transaction. `replaces`: the prefix of the
    key the customer saw ("" for none); when the active key is another one by now (the
    page was re-submitted, another tab replaced it) nothing is done."""
    from .services import live_subscription

    live, now = live_subscription(customer), timezone.now()
    if live is None or not Term.objects.filter(subscription=live, starts_at__lte=now, ends_at__gt=now).exists():
        # No paid term running (past due after it ended, say): nothing for a key to open.
        raise CredentialRefused(_("An access key is issued while you have access to the AI agent."))
    raw = AgentCredential.new_raw()
    with transaction.atomic():
        lock_customer(customer.pk)
        active = list(AgentCredential.objects.select_for_update().filter(customer=customer, revoked_at__isnull=True))
        if replaces is not None and replaces != (active[0].prefix if active else ""):
            if not active:
                raise CredentialRefused(_("Your access key was revoked in the meantime, so nothing was done. "
                                          "Create a new one below if you need it."))
            raise CredentialRefused(_(
                "That page was already sent: your key %(prefix)s… was created at %(time)s, and nothing more was "
                "done. If you did not copy it, replace it below (a key is shown only once).") % {
                "prefix": active[0].prefix,
                "time": formats.date_format(timezone.localtime(active[0].created_at), "DATETIME_FORMAT")})
        for old in active:
            _revoke(old, by=by, reason="replaced by a new key")
        credential = AgentCredential.objects.create(customer=customer, key_hash=key_hash(raw),
                                                    prefix=raw[:len(AgentCredential.PREFIX) + 4])
        events.record(verb="access.key_issued", subject=credential, customer=customer, actor=by,
                      actor_kind=_actor_kind(by, customer), data={"prefix": credential.prefix})
    return credential, raw


def credential_revoke(*, credential_id: int, by, reason: str, transferred: bool = False) -> AgentCredential:
    """Revoke one key. `transferred`: staff found it passed to a third party (clause 8): the
    customer is e-mailed why, and their history says so."""
    with transaction.atomic():
        customer_id = AgentCredential.objects.values_list("customer_id", flat=True).get(pk=credential_id)
        lock_customer(customer_id)
        credential = AgentCredential.objects.select_for_update().get(pk=credential_id)
        if credential.is_active:
            _revoke(credential, by=by, reason=reason, transferred=transferred)
    return credential


def credentials_revoke_all(*, customer_id: int, by, reason: str) -> int:
    """Revoke the customer's active key, if any (the customer's own revoke, an account
    deletion). Returns how many were revoked."""
    with transaction.atomic():
        lock_customer(customer_id)
        active = list(AgentCredential.objects.select_for_update().filter(customer_id=customer_id,
                                                                         revoked_at__isnull=True))
        for credential in active:
            _revoke(credential, by=by, reason=reason)
    return len(active)


def _revoke(credential: AgentCredential, *, by, reason: str, transferred: bool = False) -> None:
    credential.revoked_at = timezone.now()
    credential.revoked_by = by if by is not None and by.pk != credential.customer_id else None
    credential.revoke_reason = reason[:255]
    credential.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    events.record(verb="access.key_revoked", subject=credential, customer=credential.customer_id, actor=by,
                  actor_kind=_actor_kind(by, credential.customer),
                  data={"prefix": credential.prefix, "reason": credential.revoke_reason, "transferred": transferred})
    from accounts.tasks import customer_email

    from . import tasks

    transaction.on_commit(lambda pk=credential.pk: tasks.credential_revoke_notify.delay(pk), robust=True)
    if transferred:  # the customer's agent stops working: they are told why, and what they can do
        transaction.on_commit(lambda c=credential: customer_email.delay(
            c.customer_id, "emails/agent_key_revoked", {"prefix": c.prefix}), robust=True)


def _actor_kind(by, customer) -> str:
    if by is None:
        return Event.ActorKind.SYSTEM
    customer_id = getattr(customer, "pk", customer)
    return Event.ActorKind.CUSTOMER if by.pk == customer_id else Event.ActorKind.STAFF


def credential_owner(raw: str) -> AgentCredential | None:
    """The active key `raw` is, or None (unknown or revoked)."""
    if not raw or not raw.startswith(AgentCredential.PREFIX) or len(raw) > 128:
        return None
    credential = (AgentCredential.objects.select_related("customer")
                  .filter(key_hash=key_hash(raw), revoked_at__isnull=True).first())
    if credential is not None:
        _mark_used(credential)
    return credential


def _mark_used(credential: AgentCredential) -> None:
    """Record that the platform checked the key: one conditional UPDATE at most every
    LAST_USED_EVERY per key, so a platform checking on every message writes little. Not
    an event: it changes no right, only shows whether the key is in use."""
    now = timezone.now()
    if credential.last_used_at is not None and now - credential.last_used_at < AgentCredential.LAST_USED_EVERY:
        return
    AgentCredential.objects.filter(pk=credential.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - AgentCredential.LAST_USED_EVERY),
    ).update(last_used_at=now)
    credential.last_used_at = now
