"""Every term, deadline and document is in Almaty time, UTC+5 since 1 March 2024: the
system check refuses zone data from before that change (found by the dates review)."""

from datetime import timedelta, tzinfo

from soldee import checks


def test_the_zone_data_here_gives_almaty_utc_plus_5():
    assert checks.almaty_is_utc_plus_5(None) == []


def test_old_zone_data_is_refused(monkeypatch):
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
    [error] = checks.almaty_is_utc_plus_5(None)
    assert error.id == "soldee.E009" and "gives Asia/Almaty UTC+6;" in error.msg
