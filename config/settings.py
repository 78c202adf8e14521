"""Patchbay settings: one module, driven by the PATCHBAY_* environment variables (DESIGN section 9).

Safe local defaults: SQLite in var/, in-memory channel layer, embedded executor. Everything risky is off
unless asked for.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_float, env_int, env_list, env_str, load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PATCHBAY_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

load_dotenv(BASE_DIR / ".env")

# pytest >= 8.2 exports PYTEST_VERSION. `make test` runs the suite on SQLite, then once more on
# PATCHBAY_TEST_DATABASE_URL (PostgreSQL) with PATCHBAY_TEST_ON_POSTGRES=1 when that URL is set.
TESTING = bool(os.environ.get("PYTEST_VERSION"))


def _secret_key() -> str:
    configured = env_str("PATCHBAY_SECRET_KEY")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        # Written once for local use so sessions and encrypted secrets survive restarts.
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
# Off unless asked for (`make run` asks): a debug page is a leak. Even on, error reports go through
# config.error_reports, which hides URL passwords and every stored connector secret.
DEBUG = env_bool("PATCHBAY_DEBUG", False)
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.PatchbayExceptionReporterFilter"
ALLOWED_HOSTS = env_list("PATCHBAY_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("PATCHBAY_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so that its `runserver` (uvicorn: config/management/commands/runserver.py) replaces Django's
    # and staticfiles' (a command of an app listed earlier wins).
    "config",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_vite",
    "axes",
    "designer",
    "scripts_app",
    "runs",
    "flowstore",
    # Always installed (its table records what load_demo created); its API is mounted only with PATCHBAY_DEMO.
    "demo",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.api_errors.JsonServerErrorMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------------------
DATABASE_URL = env_str("PATCHBAY_DATABASE_URL", f"sqlite:///{VAR_DIR / 'patchbay.sqlite3'}")
if TESTING and env_bool("PATCHBAY_TEST_ON_POSTGRES", False) and env_str("PATCHBAY_TEST_DATABASE_URL"):
    DATABASE_URL = env_str("PATCHBAY_TEST_DATABASE_URL")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is shared by web requests and executor threads: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock at BEGIN (no lock upgrade deadlocks) and the timeout makes writers
    # wait instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Websocket tests and executor threads need a real file, not an in-memory database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
    # A pool of connections per process (psycopg's, through Django 5.1+): opening a PostgreSQL connection
    # costs a backend process, and web requests, webhook calls and Celery tasks would otherwise open one
    # each (CONN_MAX_AGE stays 0, as Django requires with a pool and recommends under ASGI). Off under
    # tests by default, where test databases are created and dropped around open connections.
    DB_POOL_SIZE = env_int("PATCHBAY_DB_POOL_SIZE", 0 if TESTING else 20)
    if DB_POOL_SIZE > 0:
        # Django checks each connection as the pool hands it out, so one the server dropped (a restart,
        # pg_terminate_backend) is replaced rather than used.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_SIZE,
            "timeout": 30,
        }
# The process id in the test database names lets several test sessions run side by side on one checkout.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
if TESTING:
    # PBKDF2 costs about half a second per password on this kind of machine and the suite creates hundreds
    # of users; MD5 is fine for throwaway test accounts and never used outside tests.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Failed logins (login page, admin) are counted per user name and address by django-axes; past the limit that
# pair is locked out (429) for the cool-off time. Off under tests, whose client logs in without a request,
# except where a test turns it on to check it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("PATCHBAY_LOGIN_THROTTLE", not TESTING)
AXES_FAILURE_LIMIT = env_int("PATCHBAY_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("PATCHBAY_LOGIN_COOLOFF_MINUTES", 15.0) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Wrong API tokens per client address (config.authentication); 0 turns the count off (default under tests).
PATCHBAY_TOKEN_FAILURE_LIMIT = env_int("PATCHBAY_TOKEN_FAILURE_LIMIT", 0 if TESTING else 20)
PATCHBAY_TOKEN_FAILURE_WINDOW = env_int("PATCHBAY_TOKEN_FAILURE_WINDOW", 300)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and the frontend build ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Created up front: whitenoise warns about a missing STATIC_ROOT, and tests turn warnings into errors.
STATIC_ROOT.mkdir(exist_ok=True)
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.is_dir() else []
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
WHITENOISE_USE_FINDERS = True
DJANGO_VITE = {
    "default": {
        "dev_mode": env_bool("PATCHBAY_VITE_DEV", False),
        "manifest_path": FRONTEND_DIST / "manifest.json",
        "static_url_prefix": "",
    }
}

# --- API ------------------------------------------------------------------------------------------------
# Largest request body accepted (bytes); larger ones get HTTP 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("PATCHBAY_MAX_REQUEST_BYTES", 10 * 1024 * 1024)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes anonymous callers get 401 rather than 403.
        "config.authentication.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.permissions.RolePermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON in and pagination parameters through one validation boundary (config/json_input.py).
    "DEFAULT_PARSER_CLASSES": [
        "config.json_input.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.json_input.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Patchbay API",
    "DESCRIPTION": "Process flows, connectors, custom scripts and runs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page must work offline: Swagger UI and Redoc are served from the installed sidecar package.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status` field with different choices; give each choice set a stable name.
    "ENUM_NAME_OVERRIDES": {
        "VersionStatusEnum": "designer.models.FlowVersion.Status",
        "RunStatusEnum": "runs.models.Run.Status",
        "StepStatusEnum": "runs.models.Step.Status",
    },
}

# --- Channels and Celery --------------------------------------------------------------------------------
REDIS_URL = env_str("PATCHBAY_REDIS_URL")
if REDIS_URL:
    # The pub/sub layer fans a group message out inside each web process: one Redis PUBLISH per run event
    # however many browsers watch the run, where the list-based RedisChannelLayer pushes (and each
    # consumer pops) one copy per watcher, and drops once 100 copies wait in a process. Delivery is at
    # most once either way; run watchers heal lost lines from the database (runs/websocket/consumers.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # Capacity is per consumer channel: a busy run's watcher must not drop lines while it writes a frame.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

# The token-failure counts live in Redis when there is one, so every web process sees the same count.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    ),
}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

# --- Patchbay -------------------------------------------------------------------------------------------
PATCHBAY_EXECUTOR = env_str("PATCHBAY_EXECUTOR", "embedded")
if PATCHBAY_EXECUTOR not in {"embedded", "celery"}:
    raise ValueError(f"PATCHBAY_EXECUTOR must be 'embedded' or 'celery', got {PATCHBAY_EXECUTOR!r}")
PATCHBAY_WORKERS = env_int("PATCHBAY_WORKERS", 4)
# The demo shop API under /demo-api/ (unauthenticated, CSRF-exempt) and `load_demo`: off unless asked for;
# `make run` turns it on.
PATCHBAY_DEMO = env_bool("PATCHBAY_DEMO", False)
PATCHBAY_RETRY_DELAY = env_float("PATCHBAY_RETRY_DELAY", 5.0)
PATCHBAY_RETRY_DELAY_MAX = env_float("PATCHBAY_RETRY_DELAY_MAX", 300.0)
PATCHBAY_LEASE_SECONDS = env_int("PATCHBAY_LEASE_SECONDS", 60)
# Largest payload a step may produce or receive (bytes); larger ones fail the step with the limit named.
PATCHBAY_MAX_PAYLOAD_BYTES = env_int("PATCHBAY_MAX_PAYLOAD_BYTES", 64 * 1024 * 1024)
PATCHBAY_FERNET_KEY = env_str("PATCHBAY_FERNET_KEY")
# /metrics answers callers that send `Authorization: Bearer <PATCHBAY_METRICS_TOKEN>` or whose address is in
# PATCHBAY_METRICS_ALLOWED_IPS (addresses or networks; default: loopback only without a token, none with one).
PATCHBAY_METRICS_TOKEN = env_str("PATCHBAY_METRICS_TOKEN")
# None (unset): runs.health.metrics_allowed uses loopback when no token is set, nobody when one is.
PATCHBAY_METRICS_ALLOWED_IPS: list[str] | None = env_list("PATCHBAY_METRICS_ALLOWED_IPS", []) or None

# Custom script limits (DESIGN section 4).
PATCHBAY_SCRIPT_TIMEOUT = env_float("PATCHBAY_SCRIPT_TIMEOUT", 120.0)
PATCHBAY_SCRIPT_CPU_SECONDS = env_int("PATCHBAY_SCRIPT_CPU_SECONDS", 60)
PATCHBAY_SCRIPT_MEMORY_MB = env_int("PATCHBAY_SCRIPT_MEMORY_MB", 256)
PATCHBAY_SCRIPT_MAX_RESULT_BYTES = env_int("PATCHBAY_SCRIPT_MAX_RESULT_BYTES", 64 * 1024 * 1024)
PATCHBAY_SCRIPT_MAX_LOG_BYTES = env_int("PATCHBAY_SCRIPT_MAX_LOG_BYTES", 1024 * 1024)
# Script sandbox (scripts_app/sandbox, docs/deploy.md "Script sandbox"): every call runs in a process of
# its own; the pool size is how many may run at once in this process. The default leaves one slot beyond
# the executor's threads for the editor's test runs and deploy checks.
PATCHBAY_SCRIPT_POOL_SIZE = env_int("PATCHBAY_SCRIPT_POOL_SIZE", PATCHBAY_WORKERS + 1)
# At most this many of those calls for one flow (the rest wait), so that one flow cannot hold every slot.
PATCHBAY_SCRIPT_FLOW_CONCURRENCY = env_int(
    "PATCHBAY_SCRIPT_FLOW_CONCURRENCY", max(1, (PATCHBAY_SCRIPT_POOL_SIZE + 1) // 2)
)
# Seconds a call may wait for a free slot before it fails with QueueTimeout.
PATCHBAY_SCRIPT_QUEUE_TIMEOUT = env_float("PATCHBAY_SCRIPT_QUEUE_TIMEOUT", 30.0)
PATCHBAY_SCRIPT_MAX_RESULT_ITEMS = env_int("PATCHBAY_SCRIPT_MAX_RESULT_ITEMS", 1_000_000)
PATCHBAY_SCRIPT_MAX_RESULT_DEPTH = env_int("PATCHBAY_SCRIPT_MAX_RESULT_DEPTH", 100)
# OS jail around the script processes: auto (every layer the platform allows, a warning for the others),
# required (no script runs unless every layer is active), off.
PATCHBAY_SCRIPT_JAIL = env_str("PATCHBAY_SCRIPT_JAIL", "auto")
if PATCHBAY_SCRIPT_JAIL not in {"auto", "required", "off"}:
    raise ValueError(f"PATCHBAY_SCRIPT_JAIL must be auto, required or off, got {PATCHBAY_SCRIPT_JAIL!r}")
# The unprivileged uid and gid script processes run as (when the server runs as root): nobody.
PATCHBAY_SCRIPT_UID = env_int("PATCHBAY_SCRIPT_UID", 65534)

# Run history retention.
PATCHBAY_LOG_RETENTION_DAYS = env_int("PATCHBAY_LOG_RETENTION_DAYS", 7)
PATCHBAY_PAYLOAD_RETENTION_HOURS = env_int("PATCHBAY_PAYLOAD_RETENTION_HOURS", 72)
# A stored payload file used this recently is never deleted, whatever the retention (runs/retention.py).
PATCHBAY_PAYLOAD_FILE_GRACE_SECONDS = env_int("PATCHBAY_PAYLOAD_FILE_GRACE_SECONDS", 3600)

# Bad input (issue 13): template limits (runs/templating.py), websocket frame size (runs/websocket/frames.py).
PATCHBAY_TEMPLATE_MAX_INT_BITS = env_int("PATCHBAY_TEMPLATE_MAX_INT_BITS", 65536)
PATCHBAY_TEMPLATE_MAX_OUTPUT = env_int("PATCHBAY_TEMPLATE_MAX_OUTPUT", 64 * 1024 * 1024)
PATCHBAY_TEMPLATE_MAX_RANGE = env_int("PATCHBAY_TEMPLATE_MAX_RANGE", 100_000)
PATCHBAY_WEBSOCKET_FRAME_LIMIT = env_int("PATCHBAY_WEBSOCKET_FRAME_LIMIT", 512 * 1024)
# Runaway protection (runs/chain.py, runs/triggers/rate_limit.py).
PATCHBAY_TRIGGER_CHAIN_MAX_DEPTH = env_int("PATCHBAY_TRIGGER_CHAIN_MAX_DEPTH", 10)
PATCHBAY_TRIGGER_CHAIN_MAX_VISITS = env_int("PATCHBAY_TRIGGER_CHAIN_MAX_VISITS", 2)
PATCHBAY_WEBHOOK_RUNS_PER_MINUTE = env_int("PATCHBAY_WEBHOOK_RUNS_PER_MINUTE", 0)
# Deepest nesting of JSON accepted by the API, webhooks and websockets (config/json_input.py).
PATCHBAY_JSON_MAX_DEPTH = env_int("PATCHBAY_JSON_MAX_DEPTH", 64)

# Failure alerts (notifications app): the address the alert's run link starts with, and delivery retries.
PATCHBAY_BASE_URL = env_str("PATCHBAY_BASE_URL", "http://127.0.0.1:8000")
PATCHBAY_ALERT_ATTEMPTS = env_int("PATCHBAY_ALERT_ATTEMPTS", 5)
PATCHBAY_ALERT_RETRY_DELAY = env_float("PATCHBAY_ALERT_RETRY_DELAY", 5.0)
PATCHBAY_ALERT_TIMEOUT = env_float("PATCHBAY_ALERT_TIMEOUT", 10.0)

EMAIL_BACKEND = env_str("PATCHBAY_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("PATCHBAY_DEFAULT_FROM_EMAIL", "patchbay@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"outbound": {"()": "connectors.logging.OutboundLogFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["outbound"]}
    },
    "root": {"handlers": ["console"], "level": env_str("PATCHBAY_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request URL at INFO (an API key in the query with it): see connectors.logging.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
