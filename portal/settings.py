"""Settings, read from the environment (django-environ).

With no variables set this is the embedded mode of ``make run``: an SQLite file and Celery
tasks executed in-process. Production switches are variables only; nothing secret lives here.
See README.md, "Configuration", for every variable.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off. "
            "Set DJANGO_SECRET_KEY to a long random string, or export DJANGO_DEBUG=true "
            "for local development (the Makefile does this for `make run` and `make test`)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG-on"

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.admin_apps.FinanceAdminConfig",  # django.contrib.admin with the finance home
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "billing",
    "notifications",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # NUL, unpaired surrogates, over-long values in portal and admin requests: 400.
    "portal.middleware.RequestTextMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed a second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    # Sends a session that needs a second factor to verify or set it up (accounts/two_factor.py).
    "accounts.two_factor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

# --- Database -----------------------------------------------------------------------------
# Unset: an SQLite file beside manage.py (the embedded default of `make run`).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login throttling, API throttling) -----------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Lock-out after failed log-ins (accounts/throttling.py), portal and admin alike: this many
# failures for one username from one address, or from one address whatever the username (0:
# off), lock it out for LOGIN_LOCKOUT_SECONDS.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=50)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# Two-factor sign-in (TOTP with recovery codes, django-otp; accounts/two_factor.py). Staff
# (finance, support, superusers) must pass a second factor for the admin and the staff API
# when this is on; on by default outside debug. Customers choose, or their account's owner
# requires it for every member.
TWO_FACTOR_REQUIRED_FOR_STAFF = env.bool("TWO_FACTOR_REQUIRED_FOR_STAFF", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Communications billing")
# An invitation link is valid this long (seconds; seven days).
INVITATION_MAX_AGE = env.int("INVITATION_MAX_AGE", default=7 * 24 * 3600)
# A password reset link is valid this long (Django's default is three days).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# Password reset e-mails (accounts.throttling.PasswordResetThrottle): per e-mail address and
# per client address, within a fixed window.
PASSWORD_RESET_EMAIL_LIMIT = env.int("PASSWORD_RESET_EMAIL_LIMIT", default=3)
PASSWORD_RESET_IP_LIMIT = env.int("PASSWORD_RESET_IP_LIMIT", default=20)
PASSWORD_RESET_WINDOW_SECONDS = env.int("PASSWORD_RESET_WINDOW_SECONDS", default=3600)

# --- Time -----------------------------------------------------------------------------------
# Billing days and months are calendar days in this zone (SPEC 3). Django shows times in it too.
BILLING_TIME_ZONE = env.str("BILLING_TIME_ZONE", default="Asia/Shanghai")
TIME_ZONE = BILLING_TIME_ZONE
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True

# --- Billing rules that are settings, not price-book data (SPEC 5) ---------------------------
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=7)
# The seller on every invoice (page, PDF, API): who issues it and how to pay it. Multi-line
# values take "\n" in the environment variable.
BILLING_SELLER_NAME = env.str("BILLING_SELLER_NAME", default="Communications Cloud Ltd.")
BILLING_SELLER_ADDRESS = env.str(
    "BILLING_SELLER_ADDRESS", default="1 Example Road\nShenzhen 518000\nChina"
).replace("\\n", "\n")
BILLING_SELLER_TAX_ID = env.str("BILLING_SELLER_TAX_ID", default="91440300EXAMPLE0001")
BILLING_PAYMENT_INSTRUCTIONS = env.str(
    "BILLING_PAYMENT_INSTRUCTIONS",
    default="Bank transfer to Example Bank, account 6222 0000 0000 0000, quoting the invoice "
    "number.",
).replace("\\n", "\n")
OVERDUE_GRACE_DAYS = env.int("OVERDUE_GRACE_DAYS", default=7)
SUSPENDED_CLOSE_DAYS = env.int("SUSPENDED_CLOSE_DAYS", default=90)
# Late usage (SPEC 6, 7): events of a finalized month are accepted this many days after the
# month's end and billed through a restatement; older ones are refused (period_closed).
LATE_USAGE_WINDOW_DAYS = env.int("LATE_USAGE_WINDOW_DAYS", default=35)
# Per currency, "CNY=50,USD=5": a restatement whose difference is smaller than this (in
# absolute value) is approved without review. Default: none, every restatement is reviewed.
RESTATEMENT_AUTO_APPROVE_BELOW = env.str("RESTATEMENT_AUTO_APPROVE_BELOW", default="")

# --- Notifications (notifications/, README "Notifications") ----------------------------------
# Webhooks: http:// (and loopback receivers) allowed for local testing; https only otherwise.
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Retries after the first attempt, base x 2^n seconds apart: 60 s x (1, 2, 4 ... 2048), 12
# retries, 2.8 days in all; then the endpoint is disabled and its owner told.
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=60)
WEBHOOK_RETRIES = env.int("WEBHOOK_RETRIES", default=12)
# The sweep dispatches events not dispatched this long after they were recorded.
OUTBOX_SWEEP_AFTER_SECONDS = env.int("OUTBOX_SWEEP_AFTER_SECONDS", default=30)
# E-mail: the reminder this many days before the due date; overdue notices this many days
# after it; the warning this many days before suspension (OVERDUE_GRACE_DAYS).
REMINDER_DAYS_BEFORE_DUE = env.int("REMINDER_DAYS_BEFORE_DUE", default=3)
DUNNING_STEPS_DAYS = env.list("DUNNING_STEPS_DAYS", cast=int, default=[1, 7, 14, 30])
SUSPENSION_WARNING_DAYS = env.int("SUSPENSION_WARNING_DAYS", default=2)
# SPEC 5: a prepaid term ended more than this many days ago without renewal suspends the
# application's paid features (entitlements).
PREPAID_LAPSE_DAYS = env.int("PREPAID_LAPSE_DAYS", default=7)
# Links in e-mails.
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000/")

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]

# --- Email ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@localhost")

# --- Security (production: DJANGO_DEBUG off) -------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# A session lasts a working day and ends with the browser.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # The API (billing/api, README "REST API"): Bearer API keys first, staff sessions second.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "billing.api.authentication.BearerKeyAuthentication",
        "billing.api.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["billing.api.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "billing.api.pagination.ApiCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["billing.api.throttling.KeyRateThrottle"],
    # Per key: "usage" is POST /usage-events (batches of up to 1000 events), "api" the rest.
    "DEFAULT_THROTTLE_RATES": {
        "usage": env.str("API_THROTTLE_USAGE", default="6000/min"),
        "api": env.str("API_THROTTLE_DEFAULT", default="600/min"),
    },
    "EXCEPTION_HANDLER": "billing.api.errors.api_exception_handler",
    # OPTIONS answers 405 (with Allow); DRF's metadata pages describe nothing the schema lacks.
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Billing portal API",
    "DESCRIPTION": "REST API v1 of the communications billing portal: applications, usage, "
    "invoices. Authenticate with `Authorization: Bearer <key>`. Errors always have the form "
    '`{"errors": [{"field", "code", "message"}]}`. Money is a decimal string.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CurrencyEnum": "billing.models.Currency",
        "RegionEnum": "billing.models.Region",
        "InvoiceStateEnum": "billing.models.InvoiceState",
        "MetricEnum": "billing.models.Metric",
        "RestatementStateEnum": "billing.models.RestatementState",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery ---------------------------------------------------------------------------------
# Unset broker: tasks execute in-process (eager), the embedded default.
# A chunk of the daily job and the monthly close (one transaction, one Celery task): at most
# this many accounts, and about this many applications (whole accounts).
BILLING_CHUNK_ACCOUNTS = env.int("BILLING_CHUNK_ACCOUNTS", default=200)
BILLING_CHUNK_APPLICATIONS = env.int("BILLING_CHUNK_APPLICATIONS", default=1000)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
CELERY_TIMEZONE = BILLING_TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Both run in the billing time zone (CELERY_TIMEZONE): the previous day at 00:30, the previous
# month on the 1st at 02:00 (SPEC 3).
CELERY_BEAT_SCHEDULE = {
    "bill-previous-day": {
        "task": "billing.tasks.bill_previous_day",
        "schedule": crontab(minute=30, hour=0),
    },
    "close-previous-month": {
        "task": "billing.tasks.close_previous_month",
        "schedule": crontab(minute=0, hour=2, day_of_month=1),
    },
    # notifications/: undispatched events, due webhook retries, unsent e-mail (every minute);
    # reminders, dunning steps, suspension warnings, lapsed terms (09:00 billing time).
    "notifications-sweep": {"task": "notifications.tasks.sweep", "schedule": 60.0},
    "notifications-daily": {
        "task": "notifications.tasks.daily_notices",
        "schedule": crontab(minute=0, hour=9),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
