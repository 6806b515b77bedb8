import pytest
from django.utils import timezone

from soldee.models import Heartbeat
from soldee.tasks import beat_heartbeat
from subscriptions.tasks import renewal_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _every_look_checks(monkeypatch):
    """These tests change what is checked between looks: no answer kept from the last one."""
    from soldee import health

    monkeypatch.setattr(health, "CHECKS_KEPT_SECONDS", -1.0)


def test_looks_within_a_moment_share_one_check(client, settings, monkeypatch):
    """Found by the security review: the public page connected to the broker on every request."""
    from soldee import health

    monkeypatch.setattr(health, "CHECKS_KEPT_SECONDS", 2.0)
    monkeypatch.setattr(health, "_last", (float("-inf"), {}))
    settings.CELERY_BROKER_URL = "memory://"
    calls = []
    real = health._broker
    monkeypatch.setattr(health, "_broker", lambda: calls.append(1) or real())
    for _ in range(5):
        assert client.get("/health/").status_code == 200
    assert len(calls) == 1
    monkeypatch.setattr(health, "_last", (health._last[0] - 3, health._last[1]))  # the moment has passed
    client.get("/health/")
    assert len(calls) == 2


def test_a_missing_or_stale_beat_fails_the_monitor_check_but_not_the_load_balancers(client, settings, time_machine):
    settings.CELERY_BROKER_URL = "memory://"
    ready = client.get("/health/")
    assert ready.status_code == 200  # a new deployment, beat's first heartbeat not yet written
    assert ready.json()["checks"]["database"] == {"ok": True}
    assert ready.json()["checks"]["beat"]["ok"] is False  # reported all the same
    assert "default 'celery' queue" in ready.json()["checks"]["beat"]["hint"]  # where to look
    assert client.get("/health/all/").status_code == 503
    beat_heartbeat.run()
    assert client.get("/health/all/").json()["checks"]["renewals"]["ok"] is False  # no renewals worker yet
    renewal_sweep.run()  # a worker on the renewals queue took the sweep
    response = client.get("/health/all/")
    assert response.status_code == 200 and response.json()["checks"]["beat"]["ok"] is True
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=5))
    assert client.get("/health/all/").status_code == 503
    assert client.get("/health/").status_code == 200
    assert Heartbeat.objects.count() == 2


def test_renewals_not_swept_lately_fail_the_monitor_check(client, settings, time_machine):
    settings.CELERY_BROKER_URL = "memory://"
    beat_heartbeat.run()
    renewal_sweep.run()
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=4))
    beat_heartbeat.run()  # beat alive, but nothing takes the renewals queue
    checks = client.get("/health/all/").json()["checks"]
    assert checks["beat"]["ok"] is True
    assert (checks["renewals"]["ok"], checks["renewals"]["age_seconds"]) == (False, 240)
    assert "renewals' queue" in checks["renewals"]["hint"]
    assert client.get("/health/all/").status_code == 503 and client.get("/health/").status_code == 200


def test_a_database_or_broker_outage_takes_the_replica_out_of_rotation(client, settings, monkeypatch):
    from soldee import health

    settings.CELERY_BROKER_URL = "memory://"
    beat_heartbeat.run()
    renewal_sweep.run()
    monkeypatch.setattr(health, "_broker", lambda: {"ok": False, "error": "OperationalError"})
    assert client.get("/health/").status_code == 503
    assert client.get("/health/all/").status_code == 503


def test_beat_sends_the_heartbeat_and_a_renewal_sweep_as_it_starts(monkeypatch):
    """Otherwise /health/all/ fails for a whole period after every (re)start."""
    from soldee import celery as celery_module

    sent = []
    monkeypatch.setattr(celery_module.app, "send_task", lambda name, **kw: sent.append(name))
    celery_module.beat_init.send(sender=None)
    assert sent == ["soldee.tasks.beat_heartbeat", "subscriptions.tasks.renewal_sweep"]
    routed = celery_module.app.amqp.router.route({}, "subscriptions.tasks.renewal_sweep")["queue"].name
    assert routed == "renewals"  # send_task by name follows the routes too


def test_the_health_answer_names_the_running_version(client, settings):
    from soldee.pagecache import release

    settings.CELERY_BROKER_URL = "memory://"
    assert client.get("/health/").json()["version"] == f"code-{release()}"  # never empty
    settings.SOLDEE_VERSION = "git-1a2b3c4"
    assert client.get("/health/").json()["version"] == "git-1a2b3c4"


def test_uptime_monitors_may_ask_with_head(client):
    """Many monitors send HEAD by default: it answers like GET, without a body."""
    for url in ("/health/", "/health/all/"):
        head, get = client.head(url), client.get(url)
        assert head.status_code == get.status_code and head.status_code in (200, 503)
        assert head.content == b""
    assert client.post("/health/").status_code == 405
