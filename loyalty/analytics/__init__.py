"""Program design analytics: the source articles' method for designing and checking a program, as
read-only reports over the ledgers (tier distribution, threshold calibration, RFM quadrants, weight
completion by tier, time-to-tier forecasts, points economics).

Each report's arithmetic is a plain module here (no database); `selectors/` reads the database with
set-based SQL and hands the rows to it; `report.py` assembles the whole set for the command, the
admin pages and the CSV downloads (`csv_export.py`).
"""
