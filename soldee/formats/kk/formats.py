# Kazakh date formats as Kazakhstan writes them (Django's own kk formats are US-style).
DATE_FORMAT = "d.m.Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "d.m.Y H:i"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
# A day of a month (the admin's date hierarchy): "30 қараша", not Django's "Қараша 30";
# "E" is the month as written after a day, lower-case (locale_vendor/kk, "alt. month").
MONTH_DAY_FORMAT = "j E"
FIRST_DAY_OF_WEEK = 1
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"
