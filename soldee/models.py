"""The append-only event log: who did what, when, to which object, with what data.

Every service that changes money, contract or subscription state writes one row here
in the same transaction as the change (`soldee.events.record`). Rows are never updated
or deleted: the model and its queryset refuse it, and the admin is read-only.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .bulk import CopyQuerySet


class AppendOnlyError(Exception):
    """Raised on an attempt to change or delete an append-only record."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")


class AppendOnlyModel(models.Model):
    """A row that is written once: save() of an existing row and delete() raise."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class EventQuerySet(CopyQuerySet, AppendOnlyQuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = super().bulk_create(objs, *args, **kwargs)
        # bulk_create sends no post_save: the customers' cached pages go stale here.
        from .page_versions import customers_changed

        customers_changed(e.customer_id for e in objs)
        return objs


class Event(AppendOnlyModel):
    class ActorKind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")
        GATEWAY = "gateway", _("Payment gateway")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    verb = models.CharField(max_length=64)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_index=False,  # partial index below: most events have no actor
    )
    # The customer the event concerns: the per-customer evidence export reads by it.
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="events", db_index=False,  # (customer, created_at) below serves it
    )
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"]),
            models.Index(fields=["customer", "created_at"]),
            # Plain b-trees, not db_index=True: that adds a second, varchar_pattern_ops
            # index for LIKE that nothing uses, and every index is paid on every insert.
            models.Index(fields=["verb"], name="event_verb"),
            models.Index(fields=["actor"], name="event_actor", condition=models.Q(actor__isnull=False)),
        ]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self):
        return f"{timezone.localtime(self.created_at):%Y-%m-%d %H:%M} {self.verb} {self.subject_type}#{self.subject_id}"


class Heartbeat(models.Model):
    """The last time a periodic process proved it is alive (beat, for the health check)."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("background process heartbeat")
        verbose_name_plural = _("background process heartbeats")

    def __str__(self):
        return f"{self.name} {timezone.localtime(self.at):%Y-%m-%d %H:%M:%S}"
