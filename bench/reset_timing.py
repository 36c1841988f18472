"""Does the password-reset request take as long for an unknown address as for a known one?

Times ``POST /auth/reset`` in-process (Flask's test client, the whole WSGI
stack) on an SQLite file, alternating a known and an unknown address so any
drift of the machine hits both alike, and prints both means with Welch's t
(|t| well below 2: no telling the two apart by timing). With ``--form register``,
``POST /auth/register`` instead, new accounts having to confirm their address
(where registration hides which addresses are taken): the taken address
against a new one each time.

The app is production-like: no TESTING, a SECRET_KEY, the ``smtp`` mail
backend, the mail throttle off (its limits 0).
With ``--smtp`` an aiosmtpd server listens on a free loopback port, for
code that sends directly (the code before the outbox did, and that is what
made a known address slower); otherwise the backend points at a closed port.

    python bench/reset_timing.py --tries 40
    python bench/reset_timing.py --tries 40 --form register
    python bench/reset_timing.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Not a ``bench_<suite>`` module of ``run.py``: it reports a comparison of two
paths of one app, not a speed target.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import statistics
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

KNOWN = "ada@example.com"
UNKNOWN = "nobody@example.com"


def welch_t(a: t.Sequence[float], b: t.Sequence[float]) -> float:
    """Welch's t statistic of two samples (unequal variances)."""
    va, vb = statistics.variance(a), statistics.variance(b)
    return (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va / len(a) + vb / len(b))


@contextlib.contextmanager
def own_schema(url: str | None) -> t.Iterator[str | None]:
    """``url`` on a new PostgreSQL schema of its own, dropped afterwards (``None`` stays ``None``: SQLite)."""
    if url is None:
        yield None
        return
    import sqlalchemy as sa

    schema = f"erlen_reset_timing_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


#: The form timed: its path, and the fields posted for an address.
FORMS: dict[str, tuple[str, t.Callable[[str], dict[str, str]]]] = {
    "reset": ("/auth/reset", lambda email: {"email": email}),
    "register": (
        "/auth/register",
        lambda email: {"email": email, "password": "another long password", "confirm": "another long password"},
    ),
}


def make_app(folder: Path, smtp_config: dict[str, t.Any], db_url: str | None = None) -> t.Any:
    import erlen
    import erlen_db
    from erlen_auth import create_user

    app = erlen.create_app(
        "reset_timing",
        {
            "PLUGINS": ["db", "forms", "mail", "auth"],
            "SECRET_KEY": "a secret key for the timing benchmark only",
            "DB_URL": db_url or f"sqlite:///{folder / 'reset.sqlite3'}",
            "MAIL_DEFAULT_SENDER": "noreply@example.com",
            "MAIL_SMTP_TIMEOUT": 5.0,
            "AUTH_THROTTLE_MAIL_LIMIT": 0,  # no limit: the throttle is not what is measured
            "AUTH_THROTTLE_ADDRESS_LIMIT": 0,
            # Registration hides which addresses are taken only when new accounts must confirm theirs.
            "AUTH_EMAIL_CONFIRMATION": True,
            "AUTH_REQUIRE_CONFIRMED_EMAIL": True,
            **smtp_config,
        },
        environ={},
    )
    erlen_db.database_of(app).create_all()
    with app.app_context():
        create_user(KNOWN, "a long enough password", confirmed=True)
    return app


def measure(app: t.Any, tries: int, warmup: int, form: str = "reset") -> dict[str, list[float]]:
    """Milliseconds of each request of ``form``, by address, alternating which goes first.

    For ``register``, the unknown address is a new one each time (the previous one has an account by then).
    """
    path, fields = FORMS[form]
    client = app.test_client()
    page = client.get(path).text
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if found is None:
        raise SystemExit(f"No CSRF token on {path}")
    token = found.group(1)
    timings: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
    for round_ in range(warmup + tries):
        order = (KNOWN, UNKNOWN) if round_ % 2 == 0 else (UNKNOWN, KNOWN)
        for label in order:
            email = label if form == "reset" or label == KNOWN else f"new-{round_}-{UNKNOWN}"
            start = time.perf_counter()
            response = client.post(path, data={**fields(email), "csrf_token": token})
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise SystemExit(f"POST {path} for {email} answered {response.status_code}")
            if round_ >= warmup:
                timings[label].append(elapsed)
    return timings


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=40, help="Timed requests per address (at least 30).")
    parser.add_argument("--warmup", type=int, default=5, help="Untimed rounds first.")
    parser.add_argument("--form", choices=sorted(FORMS), default="reset", help="The form timed.")
    parser.add_argument("--smtp", action="store_true", help="Run an aiosmtpd server for code that sends directly.")
    parser.add_argument(
        "--db-url",
        default=None,
        help="A PostgreSQL server instead of a new SQLite file; the run gets a schema of its own, dropped after.",
    )
    options = parser.parse_args(argv)
    if options.tries < 2:
        parser.error("--tries must be at least 2")
    import erlen_db
    from erlen_mail.testing import SMTPTestServer

    server = SMTPTestServer()
    if options.smtp:
        server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="erlen-reset-timing-") as folder, own_schema(options.db_url) as url:
            app = make_app(Path(folder), server.config(), url)
            try:
                timings = measure(app, options.tries, options.warmup, options.form)
            finally:
                erlen_db.database_of(app).dispose()
    finally:
        server.stop()
    known, unknown = timings[KNOWN], timings[UNKNOWN]
    where = "SQLite" if options.db_url is None else options.db_url.split(":", 1)[0]
    print(f"POST {FORMS[options.form][0]} on {where}, in-process, {options.tries} alternating tries per address")
    for label, sample in (
        ("known address", known),
        ("unknown address" if options.form == "reset" else "new address", unknown),
    ):
        print(
            f"  {label:<16} mean {statistics.fmean(sample):7.2f} ms  median {statistics.median(sample):7.2f} ms  "
            f"stdev {statistics.stdev(sample):6.2f} ms"
        )
    print(f"  Welch's t (known - unknown): {welch_t(known, unknown):+.2f}")
    print(f"  SMTP server delivering: {'yes, ' + str(len(server.messages)) + ' received' if options.smtp else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
