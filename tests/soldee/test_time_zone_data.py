"""Every term, deadline and document is in Almaty time, UTC+5 since 1 March 2024: the
system check refuses zone data from before that change (found by the dates review)."""

from datetime import timedelta, tzinfo

from soldee import checks


def test_the_zone_data_here_gives_almaty_utc_plus_5():
    assert checks.almaty_is_utc_plus_5(None) == []


def _old_almaty(monkeypatch):
    import zoneinfo

    real = zoneinfo.ZoneInfo

    class Before2024a(tzinfo):  # what Asia/Almaty was before tz 2024a: UTC+6
        def utcoffset(self, dt):
            return timedelta(hours=6)

        def dst(self, dt):
            return timedelta(0)

        def tzname(self, dt):
            return "+06"

    monkeypatch.setattr(zoneinfo, "ZoneInfo", lambda key: Before2024a() if key == "Asia/Almaty" else real(key))


def test_old_zone_data_is_refused(monkeypatch):
    _old_almaty(monkeypatch)
    [error] = checks.almaty_is_utc_plus_5(None)
    assert error.id == "soldee.E009" and "gives Asia/Almaty UTC+6;" in error.msg


def test_the_web_and_celery_which_run_no_system_checks_refuse_it_as_they_start(monkeypatch):
    """Found by the docs review: gunicorn and Celery run no system checks, so a web or worker
    host with old zone data started and worked an hour off."""
    import importlib
    import sys

    import pytest
    from celery.signals import beat_init, worker_init
    from django.core.exceptions import ImproperlyConfigured

    import soldee.celery

    assert soldee.celery._refuse_at_start in [r[1]() for r in worker_init.receivers]
    assert soldee.celery._refuse_at_start in [r[1]() for r in beat_init.receivers]
    soldee.celery._refuse_at_start()  # fine here
    _old_almaty(monkeypatch)
    with pytest.raises(SystemExit, match="UTC\\+6"):
        soldee.celery._refuse_at_start()
    sys.modules.pop("soldee.wsgi", None)
    with pytest.raises(ImproperlyConfigured, match="UTC\\+6"):
        importlib.import_module("soldee.wsgi")


def test_celery_stops_the_worker_and_beat_though_it_logs_what_signal_handlers_raise(monkeypatch):
    """Celery's Signal.send catches and logs an exception a receiver raises: a worker_init
    or beat_init handler raising ImproperlyConfigured started the process anyway."""
    import pytest
    from celery.signals import beat_init, worker_init

    import soldee.celery  # noqa: F401  (connects the receivers)

    _old_almaty(monkeypatch)
    for signal in (worker_init, beat_init):
        with pytest.raises(SystemExit, match="UTC\\+6"):
            signal.send(sender=None)
