"""The admin at ``/admin/`` (SQLite) and at ``/admin-pg/`` (PostgreSQL, when configured)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from .admin import postgres_site

urlpatterns = [path("admin/", admin.site.urls), path("admin-pg/", postgres_site.urls)]
