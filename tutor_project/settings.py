"""Settings for the Tutor project.

Every value that differs between machines is read from the environment here,
once. A ``.env`` file beside ``manage.py`` is read if present; ``.env.example``
documents each variable.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# LiteLLM downloads its price list at import unless told to use the bundled one.
# LiteLLM reads this when it is first imported, and Django loads this file
# before any app, so setting it here covers every process (server, manage.py,
# tests); the Makefile and pytest.ini export it too, for tools started outside
# Django.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-dev-only-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. "
            "Set DEBUG=1 for local development or provide a SECRET_KEY."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    # Django's admin with the project's site (tutor_project/admin.py) as admin.site.
    "tutor_project.apps.TutorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "adminsortable2",
    # The Content-Security-Policy header on every response.
    "csp",
    # Failed log-ins, counted and locked out (the login form and the admin's alike).
    "axes",
    "lessons_app",
    "llm_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The learner's language: the set_language cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lock-out into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tutor_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "tutor_project.asgi.application"

DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    ),
}
# Threads (so, connections) each process gives the chat's database work: turns and
# sockets wait for one of these, not for each other.
TUTOR_DATABASE_THREADS = env.int("TUTOR_DATABASE_THREADS", default=4)
if TUTOR_DATABASE_THREADS < 1:
    raise ImproperlyConfigured("TUTOR_DATABASE_THREADS must be at least 1.")
# A worker replaced by a deploy (tutor_project/serve/drain.py) closes its chat sockets
# this many a second, so that the new workers let each page in as it comes; 0: all at once.
TUTOR_DRAIN_SOCKETS_PER_SECOND = env.float("TUTOR_DRAIN_SOCKETS_PER_SECOND", default=100.0)
if TUTOR_DRAIN_SOCKETS_PER_SECOND < 0:
    raise ImproperlyConfigured("TUTOR_DRAIN_SOCKETS_PER_SECOND must not be negative.")
# Threads each process lets LiteLLM run its own CPU work in at once (rebuilding every
# streamed reply at its end; llm_app/worker_threads.py says why one is best).
TUTOR_LLM_THREADS = env.int("TUTOR_LLM_THREADS", default=1)
if TUTOR_LLM_THREADS < 1:
    raise ImproperlyConfigured("TUTOR_LLM_THREADS must be at least 1.")
# A connection is checked before it is reused (kept by a thread, or lent by a pool).
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Connections are reused, not opened for every call: psycopg's pool lends one to
    # each thread that needs it (the chat's, and each request's: Daphne runs every
    # request on a new thread, so Django's own persistent connections would not be
    # reused). Django requires CONN_MAX_AGE 0 with it.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "pool",
        {
            "min_size": 2,
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=TUTOR_DATABASE_THREADS + 4),
        },
    )
else:
    # A thread's connection is kept (checked before reuse) instead of opened per call.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a lock instead of failing when another thread is writing, and take
    # the write lock up front so read-then-write transactions cannot deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # Write-ahead logging: readers never wait for the writer, and a commit appends to
    # the log instead of syncing the database file (safe against crashes of the
    # process; a power cut may lose the last commits, not corrupt the file).
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
# How long (seconds) a Python thread runs before it must offer the interpreter to the
# others (sys.setswitchinterval, whose own default is 0.005). The served process sets it
# (tutor_project/asgi.py): under load, the busy event loop would otherwise keep a
# database thread waiting up to that long after each of its queries.
PYTHON_SWITCH_INTERVAL_SECONDS = env.float("PYTHON_SWITCH_INTERVAL_SECONDS", default=0.001)
if PYTHON_SWITCH_INTERVAL_SECONDS <= 0:
    raise ImproperlyConfigured("PYTHON_SWITCH_INTERVAL_SECONDS must be more than 0.")

REDIS_URL = env.str("REDIS_URL", default="")
# channels-redis waits for messages with a blocking BZPOPMIN of up to 5 seconds;
# redis-py 8 gives every socket read a 5-second timeout by default, so an idle
# socket's receive raised TimeoutError and tore the WebSocket down every ~5 s
# (django/channels_redis#422). Reads may take longer than the blocking pop.
REDIS_SOCKET_TIMEOUT_SECONDS = 15
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS}]
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes' check, then Django's own backend: a locked-out login is refused before
# the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After LOGIN_FAILURE_LIMIT wrong passwords for one username from one IP address, that
# pair is locked out for LOGIN_LOCKOUT_MINUTES (per pair, not per address: a classroom
# shares one address; not per username alone: anyone could lock a learner out). A
# successful log-in resets the count. Staff unlock early: docs/security.md.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT must be at least 1.")

# `manage.py ensure_staff` uses this for the first staff account, or generates one.
DJANGO_SUPERUSER_PASSWORD = env.str("DJANGO_SUPERUSER_PASSWORD", default="")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "lessons:catalogue"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The learner pages' languages (locale/<code>/LC_MESSAGES, docs/translations.md). The tutor
# is told to reply in the learner's (lessons_app.prompts).
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic`; tests and `runserver` skip it.
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Tests and `runserver` serve from the app folders without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or env.bool("WHITENOISE_USE_FINDERS", default=False)

# Production hardening, on whenever DEBUG is off. Behind a TLS-terminating
# proxy set SECURE_PROXY_SSL_HEADER via USE_X_FORWARDED_PROTO=1.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe /healthz over plain HTTP and count a redirect as a failure.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Images in authored content load from this site and these hosts only (the article is
# rendered without the others, and the browser refuses them too: img-src below).
TUTOR_IMAGE_HOSTS = env.list("TUTOR_IMAGE_HOSTS", default=[])
# Self-hosted video files (Stage.video_url) play from this site and these hosts only
# (media-src below); YouTube's player is a frame (frame-src).
TUTOR_VIDEO_HOSTS = env.list("TUTOR_VIDEO_HOSTS", default=[])
# Content-Security-Policy: scripts, styles and everything else from this site only, no
# inline script or style; the chat's WebSocket is this site's ('self' covers ws: and
# wss: on the same host); video stages embed YouTube's privacy-enhanced player
# (lessons_app.rendering.YOUTUBE_EMBED_BASE). CSP_REPORT_ONLY=1 sends the policy as
# Content-Security-Policy-Report-Only: browsers report what it would block, block nothing.
_CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *(f"https://{host}" for host in TUTOR_IMAGE_HOSTS)],
        "media-src": [SELF, *(f"https://{host}" for host in TUTOR_VIDEO_HOSTS)],
        "connect-src": [SELF],
        "frame-src": ["https://www.youtube-nocookie.com"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# (Lower-case names: django-csp takes settings named CSP_* for its old configuration.)
_csp_report_uri = env.str("CSP_REPORT_URI", default="")
if _csp_report_uri:
    _CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [_csp_report_uri]
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY = None
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CONTENT_SECURITY_POLICY
else:
    CONTENT_SECURITY_POLICY = _CONTENT_SECURITY_POLICY
    CONTENT_SECURITY_POLICY_REPORT_ONLY = None

# Error pages and reports hide sensitive POST data and variables with DEBUG on too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "tutor_project.error_reports.AlwaysSafeExceptionReporterFilter"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- LLM ---------------------------------------------------------------------
# The LiteLLM model string used when no admin provider is default. The seam's
# `llm_app.llm.DEFAULT_PROVIDER` is this value; resolve_provider reads the
# setting at each call, so tests override it here. The default is one LiteLLM's
# bundled price map prices (anthropic/claude-sonnet-4-20250514 has no price there
# in LiteLLM 1.110.2, so its replies' costs would show as unknown).
DEFAULT_LLM_PROVIDER = "anthropic/claude-sonnet-4-5-20250929"
LLM_PROVIDER = env.str("LLM_PROVIDER", default=DEFAULT_LLM_PROVIDER)
# Provider keys in the environment (ANTHROPIC_API_KEY, ...) are read by LiteLLM
# itself; they are listed here only so the seam can redact them from its logs.
PROVIDER_ENVIRONMENT_KEYS = tuple(
    value for name, value in os.environ.items() if name.endswith("_API_KEY") and value
)
# Key for encrypting provider API keys at rest; derived from SECRET_KEY if empty.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

# --- Tutor chat -------------------------------------------------------------
TUTOR_DEBUG_PROMPTS = env.bool("TUTOR_DEBUG_PROMPTS", default=DEBUG)
TUTOR_MAX_MESSAGE_CHARS = env.int("TUTOR_MAX_MESSAGE_CHARS", default=4000)
# Messages one learner may send per UTC day; 0 means no limit.
TUTOR_DAILY_MESSAGE_LIMIT = env.int("TUTOR_DAILY_MESSAGE_LIMIT", default=0)
# Days a conversation is kept after its last message (`manage.py delete_old_conversations`
# deletes older ones; run it daily); 0 keeps conversations until the learner deletes them.
TUTOR_CONVERSATION_RETENTION_DAYS = env.int("TUTOR_CONVERSATION_RETENTION_DAYS", default=0)
if TUTOR_CONVERSATION_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("TUTOR_CONVERSATION_RETENTION_DAYS must be 0 (keep) or more.")
# Learners accept a notice about the AI tutor once, before their first chat
# (lessons_app/ai_notice.py).
TUTOR_AI_NOTICE = env.bool("TUTOR_AI_NOTICE", default=False)
# The per-turn JSON log line carries message text only when this is on.
TUTOR_LOG_MESSAGE_TEXT = env.bool("TUTOR_LOG_MESSAGE_TEXT", default=False)
# Learner messages are checked with the tutor provider's moderation endpoint (LiteLLM's
# moderation API; OpenAI-format providers only), after they are saved and beside the reply,
# never before it; flagged ones are shown to staff on the lesson's Learners page.
TUTOR_MODERATION = env.bool("TUTOR_MODERATION", default=False)

# --- Tutor turns ----------------------------------------------------------------
# Where turns' frames, stop requests and heartbeats live (see lessons_app/tutor/): "memory"
# keeps them in the one serving process; "redis" shares them between any number of
# processes through Redis Streams on REDIS_URL.
TUTOR_TURN_ENGINE = env.str("TUTOR_TURN_ENGINE", default="redis" if REDIS_URL else "memory")
if TUTOR_TURN_ENGINE == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("TUTOR_TURN_ENGINE=redis needs REDIS_URL.")
# Prefix of every Redis key the turn engine uses, so deployments can share one Redis.
TUTOR_REDIS_PREFIX = env.str("TUTOR_REDIS_PREFIX", default="tutor")
# How often partial replies are saved (batched, one UPDATE for all turns of a process).
TUTOR_CHECKPOINT_SECONDS = env.float("TUTOR_CHECKPOINT_SECONDS", default=1.0)
# Shortest time between two text frames of a reply: chunks that come faster are sent
# together (the first text never waits); wider under load (lessons_app.tutor.text_frames).
# 0 sends every chunk as it comes.
TUTOR_TEXT_FRAME_SECONDS = env.float("TUTOR_TEXT_FRAME_SECONDS", default=0.04)
# A turn whose runner has not beaten for this long is finished as interrupted.
TUTOR_RUNNER_STALE_SECONDS = env.float("TUTOR_RUNNER_STALE_SECONDS", default=10.0)
# How often each process looks for such turns (and once when it starts).
TUTOR_SWEEP_SECONDS = env.float("TUTOR_SWEEP_SECONDS", default=5.0)
# How long a finished turn's frames stay readable for sockets catching up.
TUTOR_TURN_LOG_RETENTION_SECONDS = env.int("TUTOR_TURN_LOG_RETENTION_SECONDS", default=60)

# --- Observability ------------------------------------------------------------
# /metrics is open to staff sessions, and to `Authorization: Bearer <METRICS_TOKEN>` if set.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Langfuse tracing through LiteLLM's callback; off unless both keys are set.
LANGFUSE_PUBLIC_KEY = env.str("LANGFUSE_PUBLIC_KEY", default="")
LANGFUSE_SECRET_KEY = env.str("LANGFUSE_SECRET_KEY", default="")
LANGFUSE_HOST = env.str("LANGFUSE_HOST", default="https://cloud.langfuse.com")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object per line, for log shippers (a turn's fields: lessons_app.observability).
        "json_line": {"()": "tutor_project.log_format.JsonLineFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "turns": {"class": "logging.StreamHandler", "formatter": "json_line"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # LiteLLM logs request bodies and headers at DEBUG; keep it quiet.
        "LiteLLM": {"level": "WARNING"},
        "LiteLLM Proxy": {"level": "WARNING"},
        "LiteLLM Router": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # django-axes logs every log-in attempt at INFO; failures and lock-outs are WARNING.
        "axes": {"level": "WARNING"},
        # One structured line per chat turn, on its own handler so it stays parseable.
        "tutor.turns": {"handlers": ["turns"], "level": "INFO", "propagate": False},
    },
}
