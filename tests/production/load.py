"""Simulated users: threads that browse, log in, register and write notes over real HTTP.

Every request's outcome goes to a :class:`Ledger`: its kind, its status (or
the error when no answer came) and its duration. A note's POST counts as
*acknowledged* when it is answered with the redirect to the saved note; a
registration when it is answered with the "Check your email" page. The
checks compare those acknowledgements with the database and the mail server.

A user retries a write whose answer was an error status (a 5xx says nothing
was saved, so a second copy would be the app's fault), with the same title,
and never one that got no answer at all (its outcome is unknown, as for a
real client). The load is bounded: each user stops at its deadline, after
``max_actions``, or when told to.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import random
import re
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

#: The password of every account of the suite.
PASSWORD = "correct horse battery staple"

#: Seconds a request may take before the user gives up on its answer.
REQUEST_TIMEOUT = 20.0

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_NOTE_LOCATION = re.compile(r"/notes/(\d+)$")


@dataclass
class Outcome:
    """One request: what it was, how it ended, when and for how long."""

    kind: str
    status: int | None
    error: str | None
    started: float
    seconds: float

    @property
    def label(self) -> str:
        """The status code, or the kind of error when no answer came."""
        return str(self.status) if self.status is not None else f"no answer ({self.error})"


@dataclass
class Ledger:
    """What the simulated users did and what they were told; shared by their threads."""

    outcomes: list[Outcome] = field(default_factory=list)
    #: Every note title a user tried to save, and whether a POST of it was acknowledged.
    notes: dict[str, bool] = field(default_factory=dict)
    #: Every address a user tried to register, and whether a POST of it was acknowledged.
    registrations: dict[str, bool] = field(default_factory=dict)
    #: What each try to write a key (a note's title, an address) was answered, in order.
    answers: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: Outcome) -> None:
        """Add one request's outcome."""
        with self.lock:
            self.outcomes.append(outcome)

    def attempt(self, book: dict[str, bool], key: str) -> None:
        """Note that ``key`` was tried (not acknowledged yet) in ``book``."""
        with self.lock:
            book.setdefault(key, False)

    def acknowledge(self, book: dict[str, bool], key: str) -> None:
        """Note that a write of ``key`` was acknowledged."""
        with self.lock:
            book[key] = True

    def answered(self, key: str, answer: Response | None) -> None:
        """Note what a try to write ``key`` was answered (the form page's answer when it did not come)."""
        label = "no answer" if answer is None else f"{answer.status} {answer.location}".strip()
        with self.lock:
            self.answers.setdefault(key, []).append(label)

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        """How many requests started in ``[since, until)`` ended with each status."""
        with self.lock:
            return Counter(o.label for o in self.outcomes if since <= o.started < until)

    def count(self, status: int) -> int:
        """How many requests were answered with ``status``."""
        with self.lock:
            return sum(1 for o in self.outcomes if o.status == status)

    def of_kind(self, kind: str) -> list[Outcome]:
        """The outcomes of requests of ``kind``."""
        with self.lock:
            return [o for o in self.outcomes if o.kind == kind]


@dataclass
class Response:
    """An answer: status, headers (names in lower case) and body."""

    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        """The path of the ``Location`` header, or ``""``."""
        return urllib.parse.urlsplit(self.headers.get("location", "")).path


class Browser:
    """A user's HTTP client: a cookie jar, no redirects followed, one connection per request.

    :param port: the app's port on 127.0.0.1.
    :param ledger: where outcomes go.
    :param source: the loopback address to connect from (``127.0.0.2``... tell clients apart).
    """

    def __init__(self, port: int, ledger: Ledger, *, source: str = "127.0.0.1") -> None:
        self.port = port
        self.ledger = ledger
        self.source = source
        self.cookies: dict[str, str] = {}

    def request(self, kind: str, method: str, path: str, form: dict[str, str] | None = None) -> Response | None:
        """Send one request and record it; ``None`` when no answer came (refused, reset, timed out).

        :param kind: the ledger's name for this request (``note.post``, ``login.get``...).
        :param form: form fields, sent url-encoded.
        """
        headers = {"Host": f"127.0.0.1:{self.port}", "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT, source_address=(self.source, 0)
        )
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            text = raw.read().decode(errors="replace")
            set_cookies = raw.headers.get_all("Set-Cookie") or []
            response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, text)
        except (OSError, http.client.HTTPException) as exc:
            self.ledger.record(Outcome(kind, None, type(exc).__name__, started, time.monotonic() - started))
            return None
        finally:
            connection.close()
        self.ledger.record(Outcome(kind, response.status, None, started, time.monotonic() - started))
        for header in set_cookies:
            self._store_cookie(header)
        return response

    def _store_cookie(self, header: str) -> None:
        jar: SimpleCookie = SimpleCookie()
        with contextlib.suppress(Exception):
            jar.load(header)
        for name, morsel in jar.items():
            expired = morsel["max-age"] == "0" or "1970" in morsel["expires"]
            if expired or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def csrf_token(self, path: str) -> str | None:
        """The CSRF token of the form page at ``path``, or ``None`` when the page did not come."""
        page = self.request("form.get", "GET", path)
        token = _CSRF.search(page.body) if page is not None and page.status == 200 else None
        return token.group(1) if token is not None else None

    def form(self, kind: str, path: str, fields: dict[str, str]) -> Response | None:
        """GET the form page at ``path`` for its CSRF token, then POST ``fields`` to it.

        :returns: the POST's answer; ``None`` when the form page or the POST got no usable answer.
        """
        page = self.request(f"{kind}.get", "GET", path)
        if page is None or page.status != 200:
            return page
        token = _CSRF.search(page.body)
        if token is None:
            return page
        return self.request(f"{kind}.post", "POST", path, {**fields, "csrf_token": token.group(1)})

    def log_in(self, email: str, password: str = PASSWORD) -> Response | None:
        """Log in through the form; a 302 answer means it worked."""
        return self.form("login", "/auth/login", {"email": email, "password": password})

    def log_out(self) -> None:
        """Log out as the page's button does (a POST with the CSRF token of the notes page)."""
        page = self.request("notes.list", "GET", "/notes/")
        token = _CSRF.search(page.body) if page is not None and page.status == 200 else None
        if token is not None:
            self.request("logout.post", "POST", "/auth/logout", {"csrf_token": token.group(1)})
        self.cookies.clear()


@dataclass
class UserPlan:
    """What a simulated user does: their account (``None`` registers new ones) and their pace.

    :param email: the confirmed account to log in as; ``None`` for a user who registers accounts.
    :param think: seconds between two actions.
    :param max_actions: the most actions the user takes.
    """

    email: str | None
    think: float = 0.05
    max_actions: int = 400


class Load:
    """Simulated users in threads, from :meth:`start` until :meth:`stop` (or their deadline).

    :param port: the app's port.
    :param plans: one :class:`UserPlan` per user.
    :param name: the prefix of note titles and registered addresses, unique per run.
    :param duration: the users' deadline, in seconds after :meth:`start`.
    :param seed: for the users' random choices, so a run can be repeated.
    """

    def __init__(self, port: int, plans: list[UserPlan], *, name: str, duration: float = 60.0, seed: int = 13) -> None:
        self.port = port
        self.plans = plans
        self.name = name
        self.duration = duration
        self.seed = seed
        self.ledger = Ledger()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.note_ids: list[int] = []
        self._numbers = itertools.count(1)
        self.errors: list[str] = []

    def start(self) -> Load:
        """Start every user's thread."""
        self.deadline = time.monotonic() + self.duration
        for index, plan in enumerate(self.plans):
            thread = threading.Thread(target=self._run, args=(index, plan), name=f"user-{index}", daemon=True)
            self.threads.append(thread)
            thread.start()
        return self

    def stop(self, *, timeout: float = REQUEST_TIMEOUT + 10) -> None:
        """Tell every user to stop after their current action, and wait for them (bounded)."""
        self.stopping.set()
        end = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, end - time.monotonic()))
        alive = [t.name for t in self.threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"simulated users still running {timeout:g} s after being told to stop: {alive}")

    def pause(self, seconds: float) -> None:
        """Let the load run for ``seconds``."""
        time.sleep(seconds)

    def _go_on(self, done: int, plan: UserPlan) -> bool:
        return not self.stopping.is_set() and done < plan.max_actions and time.monotonic() < self.deadline

    def _run(self, index: int, plan: UserPlan) -> None:
        rng = random.Random(f"{self.seed}-{self.name}-{index}")
        browser = Browser(self.port, self.ledger)
        try:
            if plan.email is None:
                self._register_loop(browser, plan, rng)
            else:
                self._writer_loop(browser, plan, plan.email, rng)
        except Exception as exc:  # a bug of the suite, not of the app: shown in the test's failure
            self.errors.append(f"user {index}: {type(exc).__name__}: {exc}")

    def _writer_loop(self, browser: Browser, plan: UserPlan, email: str, rng: random.Random) -> None:
        done = 0
        logged_in = False
        while self._go_on(done, plan):
            done += 1
            if not logged_in:
                answer = browser.log_in(email)
                logged_in = answer is not None and answer.status == 302
            else:
                roll = rng.random()
                if roll < 0.30:
                    logged_in = self._write_note(browser, plan, rng)
                elif roll < 0.60:
                    answer = browser.request("notes.list", "GET", "/notes/")
                    logged_in = not _sent_to_login(answer)
                elif roll < 0.80 and self.note_ids:
                    answer = browser.request("notes.show", "GET", f"/notes/{rng.choice(self.note_ids)}")
                    logged_in = not _sent_to_login(answer)
                elif roll < 0.92:
                    answer = browser.request("profile", "GET", "/profiles/me")
                    logged_in = not _sent_to_login(answer)
                else:
                    browser.log_out()
                    logged_in = False
            time.sleep(plan.think)

    def _write_note(self, browser: Browser, plan: UserPlan, rng: random.Random) -> bool:
        """Save a note, retrying on error answers with the same title; returns whether still logged in."""
        title = f"{self.name} note {next(self._numbers)}"
        self.ledger.attempt(self.ledger.notes, title)
        for _attempt in range(5):
            answer = browser.form("note", "/notes/new", {"title": title, "body": f"Written by {browser.source}."})
            self.ledger.answered(title, answer)
            if answer is None:
                return True  # no answer: the outcome is unknown, and a careful client does not resend
            if _sent_to_login(answer):
                return False
            match = _NOTE_LOCATION.search(answer.location) if answer.status == 302 else None
            if match is not None:
                self.ledger.acknowledge(self.ledger.notes, title)
                with self.ledger.lock:
                    self.note_ids.append(int(match.group(1)))
                return True
            if answer.status < 500 and answer.status != 429:
                return True  # refused for a reason of its own (a form error): not a write
            if not self._go_on(0, plan):
                return True
            time.sleep(0.5 + rng.random())
        return True

    def _register_loop(self, browser: Browser, plan: UserPlan, rng: random.Random) -> None:
        done = 0
        while self._go_on(done, plan):
            done += 1
            number = next(self._numbers)
            email = f"{self.name.replace(' ', '-')}-{number}@example.com"
            self.ledger.attempt(self.ledger.registrations, email)
            fields = {"email": email, "display_name": f"User {number}", "password": PASSWORD, "confirm": PASSWORD}
            for _attempt in range(5):
                browser.cookies.clear()
                answer = browser.form("register", "/auth/register", fields)
                self.ledger.answered(email, answer)
                if answer is None:
                    break
                if answer.status == 200 and "<h1>Check your email</h1>" in answer.body:
                    self.ledger.acknowledge(self.ledger.registrations, email)
                    break
                if answer.status < 500 or not self._go_on(0, plan):
                    break
                time.sleep(0.5 + rng.random())
            time.sleep(plan.think * 4)


def _sent_to_login(answer: Response | None) -> bool:
    """Whether the answer sends the user to the log-in page (the session is gone)."""
    return answer is not None and answer.status == 302 and answer.location == "/auth/login"


__all__ = ["PASSWORD", "Browser", "Ledger", "Load", "Outcome", "Response", "UserPlan"]
