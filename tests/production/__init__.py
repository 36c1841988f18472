"""The production suite: the example app deployed with gunicorn, PostgreSQL, Redis and SMTP, under load and faults.

Run it with ``nox -s production``; see README.md beside this file.
"""
