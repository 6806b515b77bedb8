import pytest
from django.utils import timezone

from soldee.models import Heartbeat
from soldee.tasks import beat_heartbeat

pytestmark = pytest.mark.django_db


def test_health_reports_a_missing_beat_as_unhealthy_and_a_fresh_one_as_healthy(client, settings, time_machine):
    settings.CELERY_BROKER_URL = "memory://"
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": True}
    assert response.json()["checks"]["beat"]["ok"] is False
    beat_heartbeat.run()
    response = client.get("/health/")
    assert response.json()["checks"]["beat"]["ok"] is True
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=5))
    assert client.get("/health/").json()["checks"]["beat"]["ok"] is False
    assert Heartbeat.objects.count() == 1
