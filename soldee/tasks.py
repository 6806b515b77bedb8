from celery import shared_task
from django.utils import timezone

from .models import Heartbeat


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    """Sent by beat every minute; the health endpoint reports its age."""
    Heartbeat.objects.update_or_create(name="beat", defaults={"at": timezone.now()})
