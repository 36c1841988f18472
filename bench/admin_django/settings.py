"""Production-like settings: ``DEBUG`` off, persistent connections (``CONN_MAX_AGE = None``).

Django's docs ("Databases: Persistent connections") recommend keeping connections open between
requests; the cached template loader is on by itself with ``DEBUG`` off.
"""

from __future__ import annotations

import os

SECRET_KEY = "django-admin-benchmark-secret-key-not-for-production-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
USE_TZ = False
ROOT_URLCONF = "admin_django.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "admin_django",
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
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("ERLEN_BENCH_DJANGO_DB", ":memory:"),
        "CONN_MAX_AGE": None,
    }
}
if os.environ.get("ERLEN_BENCH_DJANGO_POSTGRES"):
    DATABASES["postgres"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["ERLEN_BENCH_DJANGO_POSTGRES"],
        "HOST": os.environ.get("ERLEN_BENCH_DJANGO_POSTGRES_HOST", "127.0.0.1"),
        "PORT": os.environ.get("ERLEN_BENCH_DJANGO_POSTGRES_PORT", "5432"),
        "USER": os.environ.get("ERLEN_BENCH_DJANGO_POSTGRES_USER", "postgres"),
        "CONN_MAX_AGE": None,
    }
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
