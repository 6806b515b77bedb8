# Russian: only what Django's own ru formats get wrong. The admin's date hierarchy names a
# day by MONTH_DAY_FORMAT, which Django gives as "j F": "30 Ноябрь"; a day of a month
# takes the genitive ("30 ноября"), which is the "E" format character.
MONTH_DAY_FORMAT = "j E"
