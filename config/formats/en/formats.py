# One format for every date and time the admin shows, lists and detail pages alike, in the
# program's time zone (loyalty.backoffice.middleware) with its abbreviation ("2026-12-08 00:00 CST").
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "Y-m"
MONTH_DAY_FORMAT = "m-d"
