"""A minimal Django project for the admin benchmark (``bench_admin.py``): the notes table and its ModelAdmin.

``ERLEN_BENCH_DJANGO_DB`` names the SQLite file; ``ERLEN_BENCH_DJANGO_POSTGRES`` (optional), a PostgreSQL
database served by a second admin site at ``/admin-pg/``.
"""
