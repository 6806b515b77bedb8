"""The customer's rights under the RK Law on Personal Data: a copy of their data, the
withdrawal of consent, and deletion (anonymisation) of the account.

Services: keyword-only, one transaction each, the customer's row locked first, an event
in the same transaction, e-mails and background work after commit. What deletion keeps
and why is in docs/personal-data.md."""

from __future__ import annotations

import logging
import os
import tempfile

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, Max, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from soldee import events
from soldee.models import Event

from .models import AccountDeletionRequest, CustomerProfile, DataExport, PersonalDataConsent

log = logging.getLogger(__name__)

# A build not finished this long after it started is considered lost (worker died).
EXPORT_STALE_AFTER = timezone.timedelta(minutes=30)


class PersonalDataRefused(Exception):
    """The request cannot go ahead; the message is shown to the customer or staff."""


def _lock_customer(customer_id: int):
    return get_user_model().objects.select_for_update(no_key=True).get(pk=customer_id)  # see soldee.locking


def _actor_kind(by, customer_id) -> str:
    return Event.ActorKind.CUSTOMER if by is not None and by.pk == customer_id else Event.ActorKind.STAFF


# --- Consent -----------------------------------------------------------------------

DELETION_PENDING_MESSAGE = gettext_lazy(
    "You asked us to delete your account, so no purchase can be made. If you changed your mind, write to "
    "info@soldee.kz and we will withdraw the request."
)


# Why a purchase is refused while consent is withdrawn: checkout, the invoice for a bank
# transfer, a past-due customer paying the renewal with another card (consent_withdrawn).
CONSENT_WITHDRAWN_MESSAGE = gettext_lazy(
    "You withdrew your consent to the processing of your personal data. Give it again on the “Your personal data” page "
    "to make a purchase."
)


def deletion_requested(user) -> bool:
    """The customer asked for the account's deletion and staff have not decided yet: no new
    purchase meanwhile (staff could not confirm the deletion while a subscription runs)."""
    return AccountDeletionRequest.objects.filter(customer=user, status=AccountDeletionRequest.Status.REQUESTED).exists()


def consent_withdrawn(user) -> bool:
    """True when the customer gave consent and has withdrawn every consent since.
    (Accounts made by staff or before consent was recorded have no rows: not withdrawn.)"""
    consents = PersonalDataConsent.objects.filter(user=user)
    return consents.exists() and not consents.filter(withdrawn_at__isnull=True).exists()


def consent_withdrawn_at(user):
    """When the customer withdrew consent (the latest withdrawal), while it is withdrawn
    (`consent_withdrawn`); None otherwise. For staff about to take their money anyway (an
    invoice issued before the withdrawal, paid after it)."""
    if not consent_withdrawn(user):
        return None
    return (PersonalDataConsent.objects.filter(user=user, withdrawn_at__isnull=False)
            .order_by("-withdrawn_at").values_list("withdrawn_at", flat=True).first())


def consent_withdrawn_condition(customer_ref: str = "customer_id"):
    """`consent_withdrawn` as a boolean SQL expression on the rows of another model, whose
    customer's id is the field `customer_ref`: read for a whole batch in that batch's own
    query (the renewal claim) instead of one query per customer."""
    consents = PersonalDataConsent.objects.filter(user=OuterRef(customer_ref))
    return ExpressionWrapper(Exists(consents) & ~Exists(consents.filter(withdrawn_at__isnull=True)),
                             output_field=BooleanField())


def renewal_to_stop(user):
    """The customer's live subscription whose automatic renewal withdrawing consent turns
    off (see consent_withdraw), or None: None too when there is no consent in force to
    withdraw (an account staff made has none, and may buy and renew)."""
    from subscriptions.services import live_subscription

    subscription = live_subscription(user)
    if subscription is None or not subscription.auto_renew:
        return None
    in_force = PersonalDataConsent.objects.filter(user=user, withdrawn_at__isnull=True).exists()
    return subscription if in_force else None


def renewal_can_go_back_on(user):
    """The customer's live subscription whose automatic renewal is off and may be turned
    back on (not when its next term was refunded), or None."""
    from subscriptions.services import live_subscription, refunded_ahead

    subscription = live_subscription(user)
    if subscription is None or subscription.auto_renew or refunded_ahead(subscription):
        return None
    return subscription


def consent_withdraw(*, user) -> int:
    """Withdraw every consent in force. The account can no longer be used for purchases
    (checkout refuses); what the Provider must keep by law is kept.

    Automatic renewal is turned off first, through the customer's own renewal-off service
    (its event and e-mail; a term already over ends at once): a renewal is a new 30-day
    term bought with a new payment (clauses 6.3, 6.4), which, as a purchase, needs the
    processing the customer has just refused; the term already paid runs to its end (the
    agreement is being performed). Refused, with nothing changed, when that service refuses
    (after the term's end, while a payment for the next term is being decided)."""
    from subscriptions.services import CheckoutRefused, subscription_set_auto_renew

    subscription = renewal_to_stop(user)
    if subscription is not None:  # before the consent's transaction: that service may ask the gateway
        try:
            subscription_set_auto_renew(subscription_id=subscription.pk, on=False, by=user)
        except CheckoutRefused as exc:
            raise PersonalDataRefused(str(exc)) from exc
    with transaction.atomic():
        _lock_customer(user.pk)
        now = timezone.now()
        active = list(PersonalDataConsent.objects.select_for_update()
                      .filter(user=user, withdrawn_at__isnull=True))
        for consent in active:
            consent.withdrawn_at = now
            consent.save(update_fields=["withdrawn_at"])
            events.record(verb="consent.withdrawn", subject=consent, customer=user, actor=user,
                          actor_kind=Event.ActorKind.CUSTOMER,
                          data={"policy": consent.policy.label, "withdrawn_at": now.isoformat()})
    return len(active)


# --- Data export -------------------------------------------------------------------

def data_export_request(*, customer) -> DataExport:
    """Ask for a ZIP of all the customer's data. One export at a time: while one is being
    prepared, the same one is returned."""
    with transaction.atomic():
        _lock_customer(customer.pk)
        pending = (DataExport.objects.filter(customer=customer, status__in=[
            DataExport.Status.REQUESTED, DataExport.Status.BUILDING]).first())
        if pending is not None:
            return pending
        export = DataExport.objects.create(customer=customer)
        events.record(verb="data_export.requested", subject=export, customer=customer,
                      actor=customer, actor_kind=Event.ActorKind.CUSTOMER)
        from . import tasks

        transaction.on_commit(lambda: tasks.data_export_build.delay(export.pk))
    return export


def _export_claim(export_id: int) -> DataExport | None:
    with transaction.atomic():
        export = DataExport.objects.select_for_update().get(pk=export_id)
        stale = (export.status == DataExport.Status.BUILDING and export.started_at is not None
                 and export.started_at < timezone.now() - EXPORT_STALE_AFTER)
        if export.status != DataExport.Status.REQUESTED and not stale:
            return None
        export.status = DataExport.Status.BUILDING
        export.started_at = timezone.now()
        export.build_attempts += 1  # counted for the sweep, which gives up after RENDER_MAX_ATTEMPTS
        export.save(update_fields=["status", "started_at", "build_attempts"])
    return export


def data_export_build(*, export_id: int) -> DataExport:
    """Build the archive (outside any transaction), store it, then mark it ready.
    Safe to run twice: only a requested (or stale) export is built."""
    export = _export_claim(export_id)
    if export is None:
        return DataExport.objects.get(pk=export_id)
    from .export import write_archive

    customer = export.customer
    fd, tmp_path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as fh:
            write_archive(customer, fh)
        size = os.path.getsize(tmp_path)
        name = f"soldee-data-{timezone.localdate():%Y-%m-%d}.zip"
        with open(tmp_path, "rb") as fh:
            stored = default_storage.save(DataExport._meta.get_field("file").generate_filename(export, name),
                                          File(fh))
    except Exception as exc:
        log.exception("personal-data export %s failed", export_id)
        DataExport.objects.filter(pk=export_id).update(status=DataExport.Status.FAILED,
                                                       error=repr(exc)[:2000])
        raise
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
    with transaction.atomic():
        export = DataExport.objects.select_for_update().get(pk=export_id)
        if export.status != DataExport.Status.BUILDING:  # another run finished first
            transaction.on_commit(lambda: default_storage.delete(stored))
            return export
        now = timezone.now()
        export.file.name = stored
        export.size_bytes = size
        export.status = DataExport.Status.READY
        export.ready_at = now
        export.expires_at = now + timezone.timedelta(days=settings.DATA_EXPORT_TTL_DAYS)
        export.save()
        events.record(verb="data_export.ready", subject=export, customer=customer,
                      data={"size_bytes": size, "expires_at": export.expires_at.isoformat()})
        from . import tasks

        transaction.on_commit(lambda: tasks.customer_email.delay(
            customer.pk, "accounts/emails/data_export_ready",
            {"export": str(export.public_id), "days": settings.DATA_EXPORT_TTL_DAYS}))
    return export


def exports_to_build_again(*, limit: int = 100) -> list[int]:
    """The ids of exports still requested or being built whose build has not been started
    for EXPORT_STALE_AFTER (or, never started, that were asked for that long ago: a lost
    task, a worker that died, retries used up), below RENDER_MAX_ATTEMPTS builds, oldest
    first: the documents' render sweep bounds (soldee.tasks.renders_left_behind). After
    that the export waits for staff (admin: "Build: attempts used up", "Build again")."""
    from django.db.models.functions import Coalesce

    from soldee.tasks import renders_left_behind

    return renders_left_behind(
        DataExport.objects.filter(status__in=[DataExport.Status.REQUESTED, DataExport.Status.BUILDING]),
        moved=Coalesce("started_at", "requested_at"), attempts="build_attempts", limit=limit)


# --- Exports given up: the customer's page stops waiting, staff are told once --------------
# An export whose build failed with an error other than OSError (tasks.data_export_build tries
# only those again) is given up at once; one still requested or being built after
# RENDER_MAX_ATTEMPTS builds, once no build of it can still be on its way, by the sweep
# (exports_give_up). Either way it is marked failed: its page says it could not be prepared
# and that staff have been told, a new request of the customer's starts a new export, and one
# staff alert names it. Staff build it again from the admin (filter "Build", "Build again").

def exports_give_up(*, limit: int = 100) -> list[int]:
    """Mark failed the exports still requested or being built that had their
    RENDER_MAX_ATTEMPTS builds and have not moved for RENDER_STALE_AFTER since the last one
    started (the sweep re-sends them no more); one staff alert for them all. Their ids."""
    from django.db.models.functions import Coalesce

    from soldee.tasks import RENDER_MAX_ATTEMPTS, RENDER_STALE_AFTER

    with transaction.atomic():
        exports = list(
            DataExport.objects.select_for_update()
            .annotate(moved=Coalesce("started_at", "requested_at"))
            .filter(status__in=[DataExport.Status.REQUESTED, DataExport.Status.BUILDING],
                    build_attempts__gte=RENDER_MAX_ATTEMPTS, moved__lt=timezone.now() - RENDER_STALE_AFTER)
            .order_by("moved")[:limit])
        DataExport.objects.filter(pk__in=[e.pk for e in exports]).update(status=DataExport.Status.FAILED)
        _alert_given_up(exports)
    return [e.pk for e in exports]


def exports_build_again(*, export_ids: list[int], by) -> dict[str, list[int]]:
    """Staff's "Build again" (admin): the selected exports, locked, sorted into
    - "queued": built again, their build sent after commit. A failed (given-up) one is asked
      for again with a fresh round of RENDER_MAX_ATTEMPTS builds (its count, start and error
      cleared; the sweep would otherwise give it up again at once), with an event saying who;
    - "building": a build started less than EXPORT_STALE_AFTER ago is under way (a second one
      would be skipped, _export_claim): nothing sent;
    - "superseded": failed, and its customer has asked for a newer export since: not built
      (the customer waits for one archive, not two);
    - "not_waiting": ready or expired: nothing to build."""
    from . import tasks

    out: dict[str, list[int]] = {"queued": [], "building": [], "superseded": [], "not_waiting": []}
    now = timezone.now()
    with transaction.atomic():
        exports = list(DataExport.objects.select_for_update().filter(pk__in=export_ids).order_by("pk"))
        newest = dict(DataExport.objects.filter(customer_id__in={e.customer_id for e in exports})
                      .exclude(status=DataExport.Status.FAILED).values_list("customer_id").annotate(Max("pk")))
        for export in exports:
            if export.status == DataExport.Status.FAILED:
                if newest.get(export.customer_id, 0) > export.pk:
                    out["superseded"].append(export.pk)
                    continue
                builds = export.build_attempts
                export.status, export.build_attempts, export.started_at, export.error = (
                    DataExport.Status.REQUESTED, 0, None, "")
                export.save(update_fields=["status", "build_attempts", "started_at", "error"])
                events.record(verb="data_export.build_again", subject=export, customer=export.customer_id,
                              actor=by, actor_kind=Event.ActorKind.STAFF, data={"builds": builds})
            elif export.status == DataExport.Status.BUILDING and export.started_at is not None and (
                    export.started_at >= now - EXPORT_STALE_AFTER):
                out["building"].append(export.pk)
                continue
            elif export.status not in (DataExport.Status.REQUESTED, DataExport.Status.BUILDING):
                out["not_waiting"].append(export.pk)
                continue
            out["queued"].append(export.pk)
        queued = list(out["queued"])
        transaction.on_commit(lambda: [tasks.data_export_build.delay(pk) for pk in queued], robust=True)
    return out


def export_failed_alert(*, export_id: int) -> bool:
    """Tell staff of an export its build marked failed (an error not tried again). Nothing
    if it is not failed (the error came before the build, or after it was stored)."""
    with transaction.atomic():
        export = DataExport.objects.filter(pk=export_id, status=DataExport.Status.FAILED).first()
        if export is None:
            return False
        _alert_given_up([export])
    return True


def _alert_given_up(exports: list[DataExport]) -> None:
    """One staff alert for these given-up exports, after commit, in STAFF_RECORDS_LANGUAGE."""
    if not exports:
        return
    from django.utils.translation import ngettext

    from soldee.staff_language import staff_language
    from soldee.tasks import staff_alert_on_commit

    count = len(exports)
    with staff_language():
        lines = [_("Export #%(export)s of customer #%(customer)s: %(attempts)s builds, last error: %(error)s") % {
            "export": e.pk, "customer": e.customer_id, "attempts": e.build_attempts, "error": e.error or "—"}
            for e in exports]
        staff_alert_on_commit(
            ngettext("%(count)s personal-data export could not be prepared",
                     "%(count)s personal-data exports could not be prepared", count) % {"count": count},
            _("Given up without being built (listed below): each one's page tells its customer it could not be "
              "prepared and that staff have been told; a new request of theirs starts a new export. Find the cause "
              "(no error: the worker stopped during the build, on a large archive, say), then build them again in "
              "the admin: Customers → Personal-data exports, filter “Build”, action “Build again”.")
            + "\n\n" + "\n".join(lines))


def data_export_expire(*, export_id: int) -> bool:
    """Delete the file of an export past its expiry (after commit)."""
    with transaction.atomic():
        export = DataExport.objects.select_for_update().get(pk=export_id)
        if export.status == DataExport.Status.EXPIRED:
            return False
        name = export.file.name
        export.status = DataExport.Status.EXPIRED
        export.file = ""
        export.save(update_fields=["status", "file"])
        events.record(verb="data_export.expired", subject=export, customer=export.customer)
        if name:
            transaction.on_commit(lambda: default_storage.delete(name))
    return True


# --- Account deletion --------------------------------------------------------------

def _live_subscription_exists(customer) -> bool:
    from subscriptions.models import LIVE_STATUSES, Subscription

    return Subscription.objects.filter(customer=customer, status__in=LIVE_STATUSES).exists()


LIVE_SUBSCRIPTION_MESSAGE = gettext_lazy(
    "You have a subscription that is still running. Turn off automatic renewal in your "
    "personal account first; you can ask for deletion once the paid term has ended."
)


def deletion_request_create(*, customer, reason: str = "") -> AccountDeletionRequest:
    with transaction.atomic():
        _lock_customer(customer.pk)
        if _live_subscription_exists(customer):
            raise PersonalDataRefused(str(LIVE_SUBSCRIPTION_MESSAGE))
        existing = AccountDeletionRequest.objects.filter(
            customer=customer, status=AccountDeletionRequest.Status.REQUESTED).first()
        if existing is not None:
            return existing
        deletion = AccountDeletionRequest.objects.create(customer=customer, reason=reason[:2000])
        events.record(verb="account.deletion_requested", subject=deletion, customer=customer,
                      actor=customer, actor_kind=Event.ActorKind.CUSTOMER)
        from soldee.staff_language import staff_language
        from soldee.tasks import staff_alert_on_commit

        with staff_language():
            staff_alert_on_commit(
                _("Account deletion requested"),
                _("Customer #%(customer)s asked for deletion (request #%(request)s). Confirm or reject it in the "
                  "admin: Customers → Account deletion requests.") % {"customer": customer.pk,
                                                                     "request": deletion.pk})
        from . import tasks

        # The customer hears it was received (and learns at once if someone else asked it).
        transaction.on_commit(lambda: tasks.customer_email.delay(
            customer.pk, "accounts/emails/deletion_requested", {}), robust=True)
    return deletion


def deletion_reject(*, request_id: int, by, note: str) -> AccountDeletionRequest:
    with transaction.atomic():
        customer_id = AccountDeletionRequest.objects.values_list("customer_id", flat=True).get(pk=request_id)
        customer = _lock_customer(customer_id)
        deletion = AccountDeletionRequest.objects.select_for_update().get(pk=request_id)
        if deletion.status != AccountDeletionRequest.Status.REQUESTED:
            raise PersonalDataRefused(_("This request has already been decided."))
        deletion.status = AccountDeletionRequest.Status.REJECTED
        deletion.decided_at = timezone.now()
        deletion.decided_by = by
        deletion.decision_note = note
        deletion.save()
        events.record(verb="account.deletion_rejected", subject=deletion, customer=customer,
                      actor=by, actor_kind=_actor_kind(by, customer_id), data={"note": note})
        from . import tasks

        transaction.on_commit(lambda: tasks.customer_email.delay(
            customer_id, "accounts/emails/deletion_rejected", {"note": note}))
    return deletion


def anonymised_email(user_id: int) -> str:
    return f"deleted-{user_id}@invalid"


def deletion_confirm(*, request_id: int, by) -> AccountDeletionRequest:
    """Staff confirm: the customer's personal fields are replaced, the login is disabled,
    allauth's e-mail addresses and any MFA devices are removed. Payments, acceptances (with
    their customer snapshot), events and documents stay: the Provider must keep them
    (docs/personal-data.md). Refused while a subscription is live."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    with transaction.atomic():
        customer_id = AccountDeletionRequest.objects.values_list("customer_id", flat=True).get(pk=request_id)
        customer = _lock_customer(customer_id)
        deletion = AccountDeletionRequest.objects.select_for_update().get(pk=request_id)
        if deletion.status != AccountDeletionRequest.Status.REQUESTED:
            raise PersonalDataRefused(_("This request has already been decided."))
        if _live_subscription_exists(customer):
            raise PersonalDataRefused(_(
                "The customer has a live subscription: it must end before the account is deleted."))
        if customer.is_staff or customer.is_superuser:
            raise PersonalDataRefused(_("Staff accounts are not deleted this way."))
        old_email, language = customer.email, customer.language
        customer.email = anonymised_email(customer.pk)
        customer.is_active = False
        customer.set_unusable_password()
        customer.save()
        profile = CustomerProfile.objects.select_for_update().filter(user=customer).first()
        if profile is not None:
            profile.name = f"deleted-{customer.pk}"
            profile.iin_bin = ""
            profile.signatory_name = ""
            profile.signatory_basis = ""
            profile.address = ""
            profile.postal_address = ""
            profile.phone = ""
            profile.save()
        EmailAddress.objects.filter(user=customer).delete()
        Authenticator.objects.filter(user=customer).delete()
        from offer.models import AgreementCopyRequest

        # Where paper copies were posted: not needed any more (a copy still to post keeps
        # its address until it is posted: offer.agreement_copies.mark_posted).
        AgreementCopyRequest.objects.filter(acceptance__customer=customer,
                                            status=AgreementCopyRequest.Status.POSTED).update(
            postal_address="", recipient_name="")
        now = timezone.now()
        PersonalDataConsent.objects.filter(user=customer, withdrawn_at__isnull=True).update(withdrawn_at=now)
        from billing.services import payment_methods_erase

        cards_erased = payment_methods_erase(customer=customer, by=by, actor_kind=_actor_kind(by, customer_id))
        from subscriptions.credentials import credentials_revoke_all

        keys_revoked = credentials_revoke_all(customer_id=customer_id, by=by, reason="account deleted")
        exports = list(DataExport.objects.filter(customer=customer).exclude(
            status=DataExport.Status.EXPIRED).values_list("pk", "file"))
        DataExport.objects.filter(pk__in=[pk for pk, _f in exports]).update(
            status=DataExport.Status.EXPIRED, file="")
        deletion.status = AccountDeletionRequest.Status.COMPLETED
        deletion.decided_at = now
        deletion.decided_by = by
        deletion.save()
        events.record(verb="account.anonymised", subject=deletion, customer=customer, actor=by,
                      actor_kind=_actor_kind(by, customer_id),
                      data={"exports_deleted": len(exports), "profile": profile is not None,
                            "cards_erased": cards_erased, "agent_keys_revoked": keys_revoked})
        from . import tasks

        files = [name for _pk, name in exports if name]
        transaction.on_commit(lambda: [default_storage.delete(name) for name in files])
        # The address is gone from the database: the task gets it once, to say goodbye.
        transaction.on_commit(lambda: tasks.customer_email.delay(
            customer_id, "accounts/emails/account_deleted", {}, old_email, language))
    return deletion
