"""Settings of the Alorig reference app: everything comes from the environment.

Required: DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL.
Optional: APP_NAME, DJANGO_ALLOWED_HOSTS, DJANGO_DEBUG, REDIS_KEY_PREFIX, PORT,
STATIC_ROOT, MEDIA_ROOT, DJANGO_CSRF_TRUSTED_ORIGINS, CELERY_* (see README.md).
"""
import socket
from pathlib import Path

from .env import env_bool, env_int, env_list, env_str, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

APP_NAME = env_str("APP_NAME", "reference")
HOSTNAME = socket.gethostname()
SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=True)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "*")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
PORT = env_int("PORT", 8000)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "core",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database: one PostgreSQL database per app on the shared server ---------
# DATABASE_URL may go through PgBouncer in transaction pooling mode
# (DATABASE_POOLING=transaction): then a server connection is the app's only for
# one transaction, so no server-side cursors (persistent connections to
# PgBouncer itself are fine: it hands out a server connection per transaction).
# DATABASE_DIRECT_URL (PostgreSQL itself) serves `alorig-app migrate` and
# anything that needs session features.
DATABASE_POOLING = env_str("DATABASE_POOLING", "none")
DATABASES = {"default": parse_database_url(env_str("DATABASE_URL", required=True))}
if DATABASE_POOLING == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: one DB + one ACL user per app; every key under REDIS_KEY_PREFIX --
REDIS_URL = env_str("REDIS_URL", required=True)
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", f"{APP_NAME}:")
REDIS_TIMEOUT = float(env_str("REDIS_SOCKET_TIMEOUT", "3"))

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Django builds keys as "<KEY_PREFIX>:<version>:<key>": "igny8" gives
        # "igny8:1:key", which is inside the ACL pattern ~igny8:*.
        "KEY_PREFIX": REDIS_KEY_PREFIX.rstrip(":"),
        # Every key expires (Redis evicts only keys with an expiry under volatile-*).
        "TIMEOUT": env_int("CACHE_DEFAULT_TIMEOUT", 300),
        "OPTIONS": {
            "socket_connect_timeout": REDIS_TIMEOUT,
            "socket_timeout": REDIS_TIMEOUT,
        },
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Celery (read by config/celery.py with namespace CELERY) ----------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": REDIS_KEY_PREFIX,
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES", 86400)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Remote control (celery inspect/control, Flower) uses the pidbox fanout:
# kombu PSUBSCRIBEs "<prefix>/<db>.celery.pidbox". Redis checks a PSUBSCRIBE
# pattern LITERALLY against the user's channel rules, so the ACL user needs
# "&<prefix>/<db>.celery.pidbox" besides "&<prefix>*". With a plain
# "~<prefix>* &<prefix>*" user, set CELERY_WORKER_ENABLE_REMOTE_CONTROL=false.
# Gossip (PSUBSCRIBE <prefix>/<db>.celeryev/worker.*) and mingle are turned
# off by the worker command (CELERY_WORKER_FLAGS).
CELERY_WORKER_ENABLE_REMOTE_CONTROL = env_bool("CELERY_WORKER_ENABLE_REMOTE_CONTROL", True)
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_WORKER_SEND_TASK_EVENTS", False)
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "CELERY_BEAT_SCHEDULE_FILE", "/data/beat/celerybeat-schedule"
)
CELERY_BEAT_TICK_SECONDS = float(env_str("CELERY_BEAT_TICK_SECONDS", "5"))
CELERY_BEAT_SCHEDULE = {
    "reference-beat-tick": {
        "task": "core.tasks.beat_tick",
        "schedule": CELERY_BEAT_TICK_SECONDS,
    },
}

# --- Channels: echo needs no channel layer -----------------------------------
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- i18n / static / media ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = env_str("DJANGO_STATIC_URL", "/static/")
STATIC_ROOT = env_str("STATIC_ROOT", "/data/static")
MEDIA_URL = env_str("DJANGO_MEDIA_URL", "/media/")
MEDIA_ROOT = env_str("MEDIA_ROOT", "/data/media")

# --- Security behind Caddy (TLS terminates at Caddy/Cloudflare) -------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
# Caddy redirects to HTTPS and sets HSTS; Django must still answer plain HTTP
# on the Docker network (health checks), hence W004/W008 are silenced.
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}
