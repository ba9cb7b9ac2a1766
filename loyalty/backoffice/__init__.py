"""The operations admin: the custom admin site (dashboard, language switch), and the views that are
more than a model admin (adjustments, approvals, job progress, tier what-if, program file)."""
