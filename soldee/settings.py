"""Soldee billing portal settings.

One env-driven settings module (django-environ). The defaults are the embedded mode
for a newcomer: SQLite, a file-system Celery broker, console e-mail. Production sets
the variables listed in `.env.example` (PostgreSQL, Redis, SMTP, S3 storage, secrets).
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

from soldee.envfile import read_env_file

BASE_DIR = Path(__file__).resolve().parent.parent
# ./.env first (the environment wins), so every setting, SOLDEE_VAR_DIR too, may come from
# it. Read as dotenv and docker compose read it: `KEY=value  # comment` is "value"
# (django-environ's reader kept the comment in the value; soldee/envfile.py).
read_env_file(BASE_DIR / ".env")
env = environ.Env()

VAR_DIR = Path(env.str("SOLDEE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
EMBEDDED = env.bool("SOLDEE_EMBEDDED", default=not env.str("DATABASE_URL", default=""))

if DEBUG or EMBEDDED:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY")  # required in production

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "soldee",
    "accounts",
    "plans",
    "offer",
    "billing",
    "subscriptions",
    "refunds",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "soldee.logging.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # A logged-in customer's own language (User.language) when the browser has no choice yet.
    "accounts.middleware.UserLanguageMiddleware",
    # Staff must have (and have used) TOTP before the admin opens (docs/security.md).
    "accounts.middleware.StaffMFAMiddleware",
]

ROOT_URLCONF = "soldee.urls"
WSGI_APPLICATION = "soldee.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "soldee.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the worker share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.str("TEST_DATABASE_NAME", default=""):
        DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    # ModelBackend and allauth's backend, reading the logged-in user from the shared
    # cache when SOLDEE_USER_CACHE is on (accounts/auth_backends.py).
    "accounts.auth_backends.CachedModelBackend",
    "accounts.auth_backends.CachedAllauthBackend",
]

# --- Internationalisation: English, Russian, Kazakh; times shown in Asia/Almaty ----
LANGUAGE_CODE = "ru"
# The language cookie remembers the choice (Privacy Policy 8.1) beyond the browser session.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGES = [("ru", _("Russian")), ("kk", _("Kazakh")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_vendor"]  # vendor: allauth, Django admin gaps in Kazakh
# Text stored for staff (a refund request's recommendation) and staff alerts: one language,
# whatever language the customer whose action produced it reads (soldee/staff_language.py).
# One of LANGUAGES (system check soldee.E010); empty means English.
STAFF_RECORDS_LANGUAGE = env.str("STAFF_RECORDS_LANGUAGE", default="") or "en"
FORMAT_MODULE_PATH = ["soldee.formats"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Almaty"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or EMBEDDED
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or EMBEDDED
# Generated documents in production: a PRIVATE S3(-compatible) bucket, so every web and
# worker machine sees the same files (docs/documents.md). Unset = local MEDIA_ROOT.
if env.str("AWS_STORAGE_BUCKET_NAME", default=""):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "location": env.str("AWS_S3_LOCATION", default="media"),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
            "object_parameters": {"ContentDisposition": "attachment"},
        },
    }

# --- Content Security Policy (Django 6 built-in): nothing from outside, no inline JS -
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# --- Security baseline for production (embedded mode runs on plain http) ----------
if not (DEBUG or EMBEDDED):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- E-mail -----------------------------------------------------------------------
# EMAIL_URL (django-environ's form: smtp+tls://user:password@host:587, consolemail://,
# filemail://path) becomes the default entry of MAILERS, Django 6.1's mail setting (the
# EMAIL_* settings are deprecated). SMTP gets a timeout: a mail server that hangs must not
# hold a worker for ever.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_TIMEOUT_SECONDS = env.int("EMAIL_TIMEOUT_SECONDS", default=30)


def _mailer(config: dict) -> dict:
    backend = config["EMAIL_BACKEND"]
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        options = {"host": config.get("EMAIL_HOST") or "localhost", "port": config.get("EMAIL_PORT"),
                   "username": config.get("EMAIL_HOST_USER") or "",
                   "password": config.get("EMAIL_HOST_PASSWORD") or "",
                   "use_tls": bool(config.get("EMAIL_USE_TLS")), "use_ssl": bool(config.get("EMAIL_USE_SSL")),
                   "timeout": EMAIL_TIMEOUT_SECONDS}
    elif backend == "django.core.mail.backends.filebased.EmailBackend":
        # filemail:///abs/path is absolute (django-environ would drop the leading "/").
        url = urlsplit(env.str("EMAIL_URL", default=""))
        options = {"file_path": (url.netloc + url.path) or str(VAR_DIR / "mail")}
    elif backend == "django.core.mail.backends.console.EmailBackend" and (DEBUG or EMBEDDED):
        # Development: decoded, links readable. Elsewhere Django's own, which `check --deploy`
        # refuses (mail.E001): a forgotten EMAIL_URL must not print customers' mail to a log.
        backend, options = "soldee.mail_console.EmailBackend", {}
    else:
        options = {}
    return {"BACKEND": backend, "OPTIONS": options}


MAILERS = {"default": _mailer(EMAIL_CONFIG)}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Soldee <info@soldee.kz>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
STAFF_ALERT_EMAILS = env.list("STAFF_ALERT_EMAILS", default=["tech@soldee.kz"])

# --- Cache (allauth rate limits, sessions, cached pages) ---------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "soldee.cache.RedisCache"  # one client per pool, not per call
    # A hung Redis must not hang a request or a settlement (page-cache bumps run inside it).
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_connect_timeout": 1, "socket_timeout": 1})
# Shared = every web and worker process sees the same cache (Redis in production).
# Shared by every process (Redis, memcached, a database cache): the one reading, used here
# and by check --deploy (soldee.E007).
SOLDEE_SHARED_CACHE = not CACHES["default"]["BACKEND"].endswith(("LocMemCache", "DummyCache"))
# Sessions are read on every request: from the shared cache, written through to the
# database. A per-process cache would keep a logged-out session alive in other workers.
SESSION_ENGINE = "django.contrib.sessions.backends." + ("cached_db" if SOLDEE_SHARED_CACHE else "db")
# One-time messages ("renewal is off") live in the session: the default storage would set a
# `messages` cookie, and the Privacy Policy (8.1) lists only session, CSRF and language.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# Whole-page cache of the visitor's pricing page and the personal account (soldee/pagecache.py):
# invalidated through the shared cache, so only with one.
SOLDEE_PAGE_CACHE = env.bool("SOLDEE_PAGE_CACHE", default=SOLDEE_SHARED_CACHE)
# With Redis: each process also keeps the pricing page locally while a subscription tells it
# of every plan or document change (soldee/local_pages.py); no round trip per visit.
SOLDEE_PAGE_CACHE_LOCAL = env.bool("SOLDEE_PAGE_CACHE_LOCAL", default=True)
# The logged-in user's row from the shared cache, dropped on every save (accounts/auth_backends.py).
SOLDEE_USER_CACHE = env.bool("SOLDEE_USER_CACHE", default=SOLDEE_SHARED_CACHE)

# --- django-allauth: e-mail login, mandatory verification -------------------------
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
# Security notices: a changed password, and a changed e-mail address (to the OLD address).
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Soldee: "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if (DEBUG or EMBEDDED) else "https"
LOGIN_REDIRECT_URL = "subscriptions:account"
LOGIN_URL = "account_login"
# Brute-force limits (need a shared cache in production: CACHE_URL=redis://...).
# "login_failed": 5 wrong passwords per e-mail in 15 minutes, 10 per IP a minute. For staff
# with an authenticator app the 5 are per e-mail and IP (accounts/adapters.py), so nobody
# else can lock them out of the admin.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/15m/key",
    "signup": "20/h/ip",
    "reset_password": "20/h/ip,5/h/key",
    "reset_password_from_key": "20/h/ip",
    "change_password": "5/m/user",
}
# What one customer may file per window (amount, seconds): soldee/limits.py.
SOLDEE_CUSTOMER_LIMITS = {
    "error_report": [(10, 3600), (30, 86400)],
    "refund_request": [(10, 3600), (30, 86400)],
}
# Behind N reverse proxies that append to X-Forwarded-For, the client IP (rate limits,
# consent and checkout records) is the N-th address from the right (docs/security.md).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Two-factor authentication (allauth.mfa): staff must use TOTP for the admin whenever
# DEBUG is off (production); `make run` (DEBUG=1) lets the demo staff in with a password.
# SOLDEE_STAFF_MFA_REQUIRED=1/0 forces it either way (docs/security.md).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Soldee"
SOLDEE_STAFF_MFA_REQUIRED = env.bool("SOLDEE_STAFF_MFA_REQUIRED", default=not DEBUG)
DATA_EXPORT_TTL_DAYS = 7  # a personal-data export is downloadable this long

# --- Celery -----------------------------------------------------------------------
# Embedded mode: kombu's file-system transport needs no server. Production: Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem"):
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # default: ./control in the working directory
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # Redis redelivers an unacknowledged message after the visibility timeout: it must be
    # longer than the longest countdown/ETA we use (refund retries back off to 1 h).
    else {"visibility_timeout": 7200}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Tasks marked acks_late are idempotent (fixed keys, unique constraints): if the worker
# dies mid-task the message goes back to the queue instead of being lost.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Sending a task retries for ~15 s while the broker is away (a Redis restart), so the
# on-commit side effects of a committed change are not lost to a short outage.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 10, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 2}
# Two queues. The renewal sweeps (minutes of charging at scale) have one of their own, so a
# long sweep never holds the workers that grant a new customer's access within 30 minutes
# (clause 5.2), send receipts or render PDFs. A worker started without -Q consumes both
# (`make run`, the tests); production runs one worker per queue (docker-compose.yml).
CELERY_TASK_DEFAULT_QUEUE = "celery"
RENEWALS_QUEUE = "renewals"
CELERY_TASK_QUEUES = (Queue("celery", Exchange("celery"), routing_key="celery"),
                      Queue(RENEWALS_QUEUE, Exchange(RENEWALS_QUEUE), routing_key=RENEWALS_QUEUE))
CELERY_TASK_ROUTES = {"subscriptions.tasks.renewal_sweep": {"queue": RENEWALS_QUEUE},
                      "subscriptions.tasks.renewal_reconcile": {"queue": RENEWALS_QUEUE}}
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "Asia/Almaty"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Every minute: beat proves it is alive (GET /health/ reports the heartbeat's age).
    "beat-heartbeat": {"task": "soldee.tasks.beat_heartbeat", "schedule": 60.0},
    # 00:15, 09:15 and 17:15 Almaty: import today's official NBK rates (clause 6.2). The first
    # run that gets them stores them, later runs are no-ops; refusals/outages alert staff.
    "nbk-rates-import": {
        "task": "billing.rate_tasks.nbk_rates_import",
        "schedule": crontab(minute=15, hour="0,9,17"),
    },
    # 18:30 Almaty: tomorrow's rates, which the NBK publishes the day before, so charges
    # made between midnight and the 00:15 run use the rate of their own date.
    "nbk-rates-import-ahead": {
        "task": "billing.rate_tasks.nbk_rates_import",
        "schedule": crontab(minute=30, hour=18),
        "kwargs": {"ahead_days": 1},
    },
    # Every minute: payments whose access was not granted within the offer's 30 minutes
    # (clause 5.2) are flagged to staff and recorded as a breach.
    "access-deadline-sweep": {
        "task": "subscriptions.tasks.access_deadline_sweep",
        "schedule": 60.0,
    },
    # Every 5 minutes: access grants still pending (worker lost, platform down) are retried.
    "access-grant-sweep": {
        "task": "subscriptions.tasks.access_grant_sweep",
        "schedule": 300.0,
    },
    # Every 5 minutes: approved refunds not finished for 15 minutes are sent again (idempotent).
    "refund-sweep": {"task": "refunds.tasks.refund_sweep", "schedule": 300.0},
    # Critical-error reports past their 5-business-day deadline: the customer is told once.
    "error-deadline-sweep": {"task": "refunds.tasks.error_deadline_sweep", "schedule": 900.0},
    # Every 15 minutes: a paid payment that bought nothing gets its refund request (lost messages).
    "unapplied-payments-sweep": {"task": "refunds.tasks.unapplied_payments_sweep", "schedule": 900.0},
    # Every 15 minutes: personal-data exports stuck while building are re-sent, and
    # exports older than DATA_EXPORT_TTL_DAYS are deleted from storage.
    "data-export-sweep": {"task": "accounts.tasks.data_export_sweep", "schedule": 900.0},
    # clause 5.4: a copy request whose render task was lost is rendered all the same
    "agreement-copy-sweep": {"task": "offer.tasks.agreement_copy_sweep", "schedule": 900.0},
    # ... and so is a receipt, refund note or invoice (billing.document_tasks)
    "document-render-sweep": {"task": "billing.document_tasks.document_render_sweep", "schedule": 900.0},
    # Every minute: charge the saved card of every subscription whose renewal is due
    # (claims with SKIP LOCKED: safe to run twice or in several workers at once).
    "renewal-sweep": {"task": "subscriptions.tasks.renewal_sweep",
                      "schedule": env.float("RENEWAL_SWEEP_SECONDS", default=60.0)},
    # Every 5 minutes: renewal charges whose outcome is unknown (crash, timeout) are
    # resolved by asking the gateway; a charge that never reached it is re-sent with the
    # same idempotency key.
    "renewal-reconcile": {"task": "subscriptions.tasks.renewal_reconcile", "schedule": 300.0},
    # Hourly: reminders N days before the charge; subscriptions whose renewal is off end
    # at term end (access revoked).
    "renewal-reminders": {"task": "subscriptions.tasks.renewal_reminder_sweep", "schedule": 3600.0},
    "subscription-expiry": {"task": "subscriptions.tasks.subscription_expiry_sweep", "schedule": 300.0},
    # Every 10 minutes: checkout payments left pending for a day are expired.
    "checkout-expire-sweep": {
        "task": "billing.tasks.payment_expire_sweep",
        "schedule": 600.0,
    },
}

# --- Documents (docs/documents.md) ----------------------------------------------------
INVOICE_VAT_RATE = env.str("INVOICE_VAT_RATE", default="") or None  # e.g. "12"; empty = "без НДС"
INVOICE_PAYMENT_PURPOSE_CODE = env.str("INVOICE_PAYMENT_PURPOSE_CODE", default="859")
INVOICE_VALID_DAYS = env.int("INVOICE_VALID_DAYS", default=5)
OFFER_NOTICE_BATCH_SIZE = env.int("OFFER_NOTICE_BATCH_SIZE", default=200)

# --- Renewals (clauses 6.3-6.5; docs/renewals.md) -----------------------------------
RENEWAL_LEAD_HOURS = env.int("RENEWAL_LEAD_HOURS", default=24)  # charge this long before term end
RENEWAL_REMINDER_DAYS = env.int("RENEWAL_REMINDER_DAYS", default=3)  # reminder before the charge
RENEWAL_RETRY_DAYS = [int(x) for x in env.list("RENEWAL_RETRY_DAYS", default=["1", "3", "5"])]
RENEWAL_GRACE_DAYS = env.int("RENEWAL_GRACE_DAYS", default=0)  # access while past due, after term end
RENEWAL_BATCH_SIZE = env.int("RENEWAL_BATCH_SIZE", default=200)  # claims per transaction
RENEWAL_CHARGE_THREADS = env.int("RENEWAL_CHARGE_THREADS", default=16)  # gateway calls in flight
RENEWAL_RECONCILE_AFTER_MINUTES = env.int("RENEWAL_RECONCILE_AFTER_MINUTES", default=5)

# --- The Provider: one source for the site footer, contacts and every document ------
PROVIDER = {
    "name": env.str("PROVIDER_NAME", default="STG LLP"),
    "address": env.str(
        "PROVIDER_ADDRESS", default="Kazakhstan, Almaty, Mamyr-7 microdistrict, building 8/5"
    ),
    "bin": env.str("PROVIDER_BIN", default="250640004728"),
    "bank": env.str("PROVIDER_BANK", default="Kaspi Bank JSC"),
    "kbe": env.str("PROVIDER_KBE", default="17"),
    "bic": env.str("PROVIDER_BIC", default="CASPKZKA"),
    "account": env.str("PROVIDER_ACCOUNT", default="KZ24722S000046089639"),
    "emails": env.list("PROVIDER_EMAILS", default=["info@soldee.kz", "tech@soldee.kz"]),
    "phone": env.str("PROVIDER_PHONE", default="+7 700 431 31 31"),
    "website": env.str("PROVIDER_WEBSITE", default="https://soldee.kz"),
}
# The same details as written in Russian and Kazakh (pages, e-mails and documents in those
# languages): the forms the portal's ru/kk texts already use for the legal name.
PROVIDER_LOCALIZED = {
    "ru": {
        "name": env.str("PROVIDER_NAME_RU", default="ТОО «STG»"),
        "address": env.str("PROVIDER_ADDRESS_RU", default="Казахстан, г. Алматы, мкр. Мамыр-7, д. 8/5"),
        "bank": env.str("PROVIDER_BANK_RU", default="АО «Kaspi Bank»"),
    },
    "kk": {
        "name": env.str("PROVIDER_NAME_KK", default="«STG» ЖШС"),
        "address": env.str("PROVIDER_ADDRESS_KK", default="Қазақстан, Алматы қ., Мамыр-7 шағын ауданы, 8/5 үй"),
        "bank": env.str("PROVIDER_BANK_KK", default="«Kaspi Bank» АҚ"),
    },
}

# --- Payments ---------------------------------------------------------------------
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="sandbox")
# The sandbox takes test cards as payment: a production site left on it would give plans
# away. `check --deploy` refuses it unless this says the site is a staging or demo one.
SANDBOX_PAYMENTS_ALLOWED = env.bool("SANDBOX_PAYMENTS_ALLOWED", default=False)
# A gateway given up for new payments whose notifications are still accepted for its
# payments (late answers, refunds) while they wind down; only PAYMENT_GATEWAY's otherwise.
PAYMENT_GATEWAYS_RETIRED = env.list("PAYMENT_GATEWAYS_RETIRED", default=[])
# The public development secret only while the sandbox is the gateway in use: with a real
# gateway, anyone could sign a sandbox notification with it.
SANDBOX_WEBHOOK_SECRET = env.str("SANDBOX_WEBHOOK_SECRET", default="") or (
    "sandbox-dev-secret" if (DEBUG or EMBEDDED) and PAYMENT_GATEWAY == "sandbox" else "")
# Where the sandbox gateway posts its notifications (server to server).
# Empty (as .env.example leaves it) means the default too.
SANDBOX_WEBHOOK_URL = env.str("SANDBOX_WEBHOOK_URL", default="") or f"{SITE_URL}/billing/webhooks/sandbox/"
SANDBOX_DELAYED_APPROVAL_SECONDS = env.int("SANDBOX_DELAYED_APPROVAL_SECONDS", default=20)
SANDBOX_LATENCY_MS = env.int("SANDBOX_LATENCY_MS", default=0)  # simulated API latency (benchmarks)
SANDBOX_LATENCY_AFTER_CHARGE_MS = env.int("SANDBOX_LATENCY_AFTER_CHARGE_MS", default=0)  # fault tests
# CloudPayments (docs/cloudpayments.md). The API secret also keys the notification HMAC.
CLOUDPAYMENTS_PUBLIC_ID = env.str("CLOUDPAYMENTS_PUBLIC_ID", default="")
CLOUDPAYMENTS_API_SECRET = env.str("CLOUDPAYMENTS_API_SECRET", default="")
CLOUDPAYMENTS_API_URL = env.str("CLOUDPAYMENTS_API_URL", default="https://api.cloudpayments.ru")
CLOUDPAYMENTS_TIMEOUT_SECONDS = env.float("CLOUDPAYMENTS_TIMEOUT_SECONDS", default=10)
CLOUDPAYMENTS_NOTIFICATION_FORMAT = env.str("CLOUDPAYMENTS_NOTIFICATION_FORMAT", default="form")
CHECKOUT_PAYMENT_TTL_HOURS = env.int("CHECKOUT_PAYMENT_TTL_HOURS", default=24)
# A new checkout waits for an earlier card payment the bank has not decided yet, if it was
# started at most this long ago (subscriptions.services.checkout_in_flight).
CHECKOUT_IN_FLIGHT_MINUTES = env.int("CHECKOUT_IN_FLIGHT_MINUTES", default=60)

# --- Exchange rates (offer clause 6.2; docs/exchange-rates.md) --------------------------
NBK_FEED_URL = env.str("NBK_FEED_URL", default="https://nationalbank.kz/rss/get_rates.cfm")
NBK_TIMEOUT_SECONDS = env.float("NBK_TIMEOUT_SECONDS", default=10)
NONRESIDENT_CURRENCIES = env.list("NONRESIDENT_CURRENCIES", default=["USD", "EUR", "RUB"])
EXCHANGE_RATE_MAX_JUMP = env.float("EXCHANGE_RATE_MAX_JUMP", default=0.2)
EXCHANGE_RATE_MAX_AGE_DAYS = env.int("EXCHANGE_RATE_MAX_AGE_DAYS", default=7)

# --- The AI agent platform --------------------------------------------------------
# Outbound webhook for access grants/revocations; empty = grant locally (embedded).
AGENT_PLATFORM_WEBHOOK_URL = env.str("AGENT_PLATFORM_WEBHOOK_URL", default="")
AGENT_PLATFORM_WEBHOOK_SECRET = env.str("AGENT_PLATFORM_WEBHOOK_SECRET", default="")
AGENT_PLATFORM_TIMEOUT_SECONDS = env.float("AGENT_PLATFORM_TIMEOUT_SECONDS", default=10.0)
ACCESS_GRANT_DEADLINE_MINUTES = 30  # clause 5.2 of the offer

# --- Staff tools (docs/operations.md) ---------------------------------------------------
# The test clock moves one customer's schedule forward; never in production.
# What /health/ reports as the running version (e.g. the git commit the image was built
# from); unset: a fingerprint of the code, templates and translations (soldee.pagecache.release).
SOLDEE_VERSION = env.str("SOLDEE_VERSION", default="")
SOLDEE_TEST_CLOCK_ENABLED = env.bool("SOLDEE_TEST_CLOCK_ENABLED", default=DEBUG or EMBEDDED)
# bench/pages.sh: route the bare comparison view /bench/bare/.
SOLDEE_BENCH_VIEWS = env.bool("SOLDEE_BENCH_VIEWS", default=False)

# Structured logs with request and task ids (soldee/logging.py; docs/operations.md §6).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "soldee.logging.ContextFilter"},
                "client_errors": {"()": "soldee.logging.ClientErrorsWithoutTraceback"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s%(task_id)s] %(message)s"},
        "json": {"()": "soldee.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context", "client_errors"],
                             "formatter": env.str("LOG_FORMAT", default="plain")}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # "django" through the root handler only: Django's own console handler (on with DEBUG)
    # printed every request warning twice.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True},
                "django.db.backends": {"level": "WARNING"},
                # WeasyPrint logs ~11 INFO lines of progress for every PDF it renders
                "weasyprint.progress": {"level": "WARNING"}},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# What a task prints (the console mail backend of the embedded mode writes e-mails there)
# is logged at INFO: at Celery's default WARNING every demo e-mail read as a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
