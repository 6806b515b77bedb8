"""Writing to the event log. Call inside the transaction that makes the change."""

from typing import Any

from django.db import models

from .models import Event


def record(
    *,
    verb: str,
    subject: models.Model,
    customer=None,
    actor=None,
    actor_kind: str = Event.ActorKind.SYSTEM,
    data: dict[str, Any] | None = None,
) -> Event:
    return Event.objects.create(
        verb=verb,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        customer=customer,
        actor=actor,
        actor_kind=actor_kind,
        data=data or {},
    )


def for_subject(subject: models.Model):
    return Event.objects.filter(subject_type=subject._meta.label_lower, subject_id=str(subject.pk))
