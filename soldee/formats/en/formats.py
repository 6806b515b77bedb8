# English for customers in Kazakhstan: day-month order and a 24-hour clock.
DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
MONTH_DAY_FORMAT = "j F"  # the admin's date hierarchy: "30 November"
FIRST_DAY_OF_WEEK = 1
