"""Settings read from the environment; the defaults give the zero-setup SQLite demo."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_flag_or_text(value: str):
    """true and false as booleans (Anymail's flags); everything else, digits too, as text (keys)."""
    return {"true": True, "false": False}.get(value.strip().lower(), value)


DEBUG = env_bool("DEBUG", False)
# Without DEBUG (production) the key must be given: a well-known fallback would let anyone forge
# sessions. The demo (DEBUG=1) and the test settings (tests/settings.py) use a fixed one.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random value in production "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))"), or DEBUG=1 for the local demo.'
        )
    SECRET_KEY = "django-insecure-demo-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

# HTTPS (README, "Running it for real"): all off by default so the demo runs on plain http://.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
# Behind a proxy that terminates TLS: the header it sets and the value meaning https, e.g.
# "X-Forwarded-Proto: https". Only set it when the proxy always sets (or strips) that header.
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    _header, _, _value = os.environ["SECURE_PROXY_SSL_HEADER"].partition(":")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _header.strip().upper().replace("-", "_"), _value.strip())

INSTALLED_APPS = [
    "loyalty.backoffice.apps.BackofficeAdminConfig",  # django.contrib.admin with our site and dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "rangefilter",  # date-range filters in the admin (members joined between two dates)
    # The operations admin's libraries: spreadsheets, configuration history, login lockout (docs/admin.md).
    "import_export",
    "simple_history",
    "axes",
    "members",
    "loyalty",
    "rewards",
    "campaigns",
    "webhooks",
    "notifications",
    "anymail",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "loyalty.api.middleware.RejectNulCharacters",
    "loyalty.api.middleware.LimitApiBodies",
    "loyalty.api.middleware.RefuseUnknownQueryParameters",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the admin in English or Simplified Chinese
    "loyalty.backoffice.middleware.ProgramTimeZone",  # and in the program's time zone
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "loyalty.backoffice.middleware.DecisionNotices",  # a requester hears of decisions on their adjustments
    "webhooks.middleware.EndpointStopNotices",  # and staff of a webhook endpoint that stopped on its own
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The operations admin: who changed the configuration (simple_history), and the login lockout
    # page (axes, which its documentation asks to be last).
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # The admin login's brute-force lockout (django-axes) refuses locked-out logins before ModelBackend.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "loyalty.backoffice.context_processors.approvals",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'demo.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        # A persistent connection the database dropped (a restart, a failover) is noticed before the
        # next request uses it, instead of failing that request.
        conn_health_checks=True,
    )
}
# The API's hottest statements (members.db.fetch_all(..., prepare=True)) are prepared once per
# connection: planning them cost more than running them. Django's own queries never are (its cursors
# bind client-side). Behind a pooler in transaction mode without prepared-statement support
# (PgBouncer < 1.21), set DATABASE_PREPARED_STATEMENTS=0.
prepared_statements = os.environ.get("DATABASE_PREPARED_STATEMENTS", "1") != "0"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and prepared_statements:
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs the server and management commands side by side on one file.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]
# Storage is UTC; the program's own time zone (ProgramSettings.timezone) decides what "a day" is.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    # django-redis rather than Django's own backend: Django's builds a new client object (a dict of
    # ~170 response callbacks) on every cache call, and counts an increment in three round trips;
    # the API's per-key throttle makes two cache calls per request.
    CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Spreadsheet import and export in the admin (docs/admin.md). The library's formula escape misses
# "+", "-", "@" and turns XLSX numbers into text: loyalty.spreadsheets neutralises formulas instead.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
# Rows fetched per database round trip while an export walks its queryset with .iterator().
IMPORT_EXPORT_CHUNK_SIZE = 2000
# An export is built in memory (the library has no streaming) and XLSX is slow to write; larger
# lists must be filtered first.
LOYALTY_EXPORT_MAX_ROWS = int(os.environ.get("LOYALTY_EXPORT_MAX_ROWS", "50000"))
LOYALTY_EXPORT_MAX_XLSX_ROWS = int(os.environ.get("LOYALTY_EXPORT_MAX_XLSX_ROWS", "20000"))
# Imports run row by row through the services, once for the preview and once when confirmed.
LOYALTY_IMPORT_MAX_ROWS = int(os.environ.get("LOYALTY_IMPORT_MAX_ROWS", "2000"))

# Configuration history is an audit trail: its admin pages show old and new values and never write.
SIMPLE_HISTORY_REVERT_DISABLED = True

# Admin login brute-force protection (docs/admin.md): 5 failed logins for one username from one
# address lock that pair out for 30 minutes; a superuser unlocks early under "Access attempts".
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "loyalty.admin_lockout.locked_out_page"
# No startup banner on every management command; failed logins are still logged as warnings.
AXES_VERBOSE = False

# How long a process trusts an API key it has verified; revocation takes effect within this time.
API_KEY_CACHE_SECONDS = float(os.environ.get("API_KEY_CACHE_SECONDS", "5"))

# Members per scheduled-job chunk (one transaction each).
LOYALTY_JOB_CHUNK_SIZE = int(os.environ.get("LOYALTY_JOB_CHUNK_SIZE", "10000"))
# The window of the RFM values the nightly store_member_rfm job keeps per member (campaign targeting).
LOYALTY_RFM_WINDOW_DAYS = int(os.environ.get("LOYALTY_RFM_WINDOW_DAYS", "365"))
# Domain events every subscriber has been handed are kept this many days (for the admin's outbox list
# and a subscriber replayed by hand), then pruned nightly (loyalty.outbox.prune_delivered).
OUTBOX_RETENTION_DAYS = int(os.environ.get("OUTBOX_RETENTION_DAYS", "30"))

# Outbound webhooks (docs/webhooks.md). Endpoints must be HTTPS on public addresses; 1 lifts that
# for development, the demo (its inbox is http://127.0.0.1) and the tests. Never in production.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", DEBUG)
# A file of CA certificates endpoints' TLS certificates are checked against (empty: the system's).
WEBHOOK_CA_BUNDLE = os.environ.get("WEBHOOK_CA_BUNDLE", "")
# Seconds to connect, and for each read of the answer.
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "15"))
# How long a rotated secret stays valid (deliveries carry both signatures meanwhile).
WEBHOOK_SECRET_OVERLAP_HOURS = int(os.environ.get("WEBHOOK_SECRET_OVERLAP_HOURS", "24"))
# An endpoint whose every attempt failed for this long is paused and staff are told.
WEBHOOK_PAUSE_AFTER_HOURS = int(os.environ.get("WEBHOOK_PAUSE_AFTER_HOURS", "24"))
# Finished deliveries (delivered or failed) and their attempts are kept this many days, then pruned hourly.
WEBHOOK_RETENTION_DAYS = int(os.environ.get("WEBHOOK_RETENTION_DAYS", "30"))
# Each send task's threads (concurrent requests) and the deliveries a thread claims at a time.
WEBHOOK_SENDER_THREADS = int(os.environ.get("WEBHOOK_SENDER_THREADS", "8"))
WEBHOOK_CLAIM_SIZE = int(os.environ.get("WEBHOOK_CLAIM_SIZE", "10"))
# The Celery queue the send tasks go to. A deployment runs a worker for it at a lower CPU priority
# (README, "Running it for real"), so that sending yields to the requests and the jobs; the default
# queue works with a single worker too.
WEBHOOK_QUEUE = os.environ.get("WEBHOOK_QUEUE", "celery")
# Members' email is sent from the same queue by default: like the webhooks, waiting on other servers.
NOTIFICATION_QUEUE = os.environ.get("NOTIFICATION_QUEUE", WEBHOOK_QUEUE)
CELERY_TASK_ROUTES = {
    "webhooks.send_deliveries": {"queue": WEBHOOK_QUEUE},
    "notifications.send_notifications": {"queue": NOTIFICATION_QUEUE},
}
# Staff notices (an endpoint stopped) and members' notifications are emailed from here; EMAIL_*
# configure the SMTP server.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "loyalty@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds to wait for the mail server: without it a stuck server holds a sender forever.
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
# The demo sends no mail: it keeps the last messages for its mailbox page, /demo/mail/ (notifications.demo).
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "notifications.demo.DemoMailbox" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
# An email provider's API instead of SMTP, through django-anymail: ANYMAIL_ESP names the provider
# (sendgrid, mailgun, amazon_ses, postmark, ... as Anymail spells its backends) and every other
# ANYMAIL_<SETTING> variable becomes that Anymail setting (ANYMAIL_SENDGRID_API_KEY -> SENDGRID_API_KEY).
ANYMAIL_ESP = os.environ.get("ANYMAIL_ESP", "")
if ANYMAIL_ESP:
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_ESP}.EmailBackend"
    # true and false are flags; every other value (keys, domains) is text.
    ANYMAIL = {
        name.removeprefix("ANYMAIL_"): env_flag_or_text(value)
        for name, value in os.environ.items()
        if name.startswith("ANYMAIL_") and name != "ANYMAIL_ESP"
    }

# Members' notifications (docs/notifications.md). Links in them (unsubscribe) start with this address
# of the site members reach this server at.
NOTIFICATIONS_SITE_URL = os.environ.get("NOTIFICATIONS_SITE_URL", "http://127.0.0.1:8000")
# Finished notifications (sent, suppressed, failed) are kept this many days, then pruned daily.
NOTIFICATION_RETENTION_DAYS = int(os.environ.get("NOTIFICATION_RETENTION_DAYS", "180"))

# The largest request body, in MB: a full batch (1,000 events) with 16 KB of `data` each fits in 20.
# Larger API bodies are refused with 413 payload_too_large (loyalty.api.middleware.LimitApiBodies).
API_MAX_BODY_MB = int(os.environ.get("API_MAX_BODY_MB", "20"))
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_MB * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["loyalty.api.auth.StorefrontKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["loyalty.api.auth.IsStorefront"],
    "DEFAULT_THROTTLE_CLASSES": ["loyalty.api.auth.PerKeyThrottle"],
    # Requests per API key; generous by default, tuned per deployment.
    "DEFAULT_THROTTLE_RATES": {"storefront": os.environ.get("API_RATE_PER_KEY", "60000/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.api.parsers.StorefrontJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "loyalty.api.errors.handle_exception",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty back office — storefront API",
    "DESCRIPTION": "Members, events, ledgers and tiers for storefronts. See docs/api.md for the integration guide.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "loyalty.api.schema.state_what_the_server_enforces",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
