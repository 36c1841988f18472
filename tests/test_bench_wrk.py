"""``harness.http_load``: the benchmarks' HTTP load, sent by wrk from a process of its own, against a real server.

The server is a :class:`http.server.ThreadingHTTPServer` on a free port of 127.0.0.1, in a thread of the
test, that records every request it received (method, path, headers, body) and answers by path: 418 for
``/teapot``, 200 otherwise. Figures are not checked; what is checked is what was sent and what was counted.
"""

from __future__ import annotations

import functools
import importlib
import shutil
import socket
import sys
import threading
import time
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]

needs_wrk = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (Debian: apt-get install wrk; .ci/run installs it)"
)


def bench_module(name: str) -> ModuleType:
    """The module ``name`` of ``bench/``, imported as the suites import each other (``bench/`` on the path).

    :param name: the module's name, ``harness`` or a suite's.
    """
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))


@dataclass(frozen=True)
class Received:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """What the server received, in the order it read the requests."""

    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def handler_for(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    """A request handler that records into ``recorder`` and answers 418 for ``/teapot``, 200 otherwise."""

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1: wrk keeps each connection open, as it does with uvicorn.
        protocol_version = "HTTP/1.1"
        # The headers and the body are two writes: without this, Nagle and the client's delayed ACK hold the
        # body back some 40 ms on a kept-open connection.
        disable_nagle_algorithm = True

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with recorder.lock:
                recorder.requests.append(
                    Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            status = 418 if self.path == "/teapot" else 200
            payload = b"teapot" if status == 418 else b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = answer
        do_POST = answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads the recorder, not the log."""

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[int, Recorder]]:
    """A recording server on a free port of 127.0.0.1: its port and its recorder; shut down after the test."""
    recorder = Recorder()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(recorder))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1]), recorder
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@needs_wrk
def test_requests_cycle_through_the_paths_in_order_with_method_body_and_headers(server: tuple[int, Recorder]) -> None:
    """Request n goes to ``paths[n % len(paths)]``, from the first (wrk's own check of the request is not sent)."""
    harness = bench_module("harness")
    port, recorder = server
    body = b'{"title": "caf\xc3\xa9 \\"quoted\\"", "n": 1}'
    outcome = harness.http_load(
        port,
        paths=["/a", "/b?x=1&y=%20", "/c"],
        method="POST",
        body=body,
        headers={"Content-Type": "application/json", "X-Erlen-Bench": 'yes; "quoted"'},
        seconds=3.0,
        max_requests=9,
        # One connection: the next request is sent only once the last was answered, so the order is exact.
        threads=1,
    )
    assert (outcome.ok, outcome.errors) == (9, 0)
    assert [r.path for r in recorder.requests] == ["/a", "/b?x=1&y=%20", "/c"] * 3
    for received in recorder.requests:
        assert received.method == "POST"
        assert received.body == body
        assert received.headers["content-type"] == "application/json"
        assert received.headers["x-erlen-bench"] == 'yes; "quoted"'
        assert received.headers["host"] == f"127.0.0.1:{port}"


@needs_wrk
def test_a_wrong_status_counts_as_an_error_and_max_errors_stops_the_load(server: tuple[int, Recorder]) -> None:
    harness = bench_module("harness")
    port, recorder = server
    mixed = harness.http_load(port, paths=["/", "/teapot"], seconds=3.0, max_requests=10, threads=1)
    assert (mixed.ok, mixed.errors) == (5, 5)

    recorder.requests.clear()
    teapots = harness.http_load(port, path="/teapot", seconds=3.0, max_requests=1000, max_errors=3, threads=2)
    assert (teapots.ok, teapots.errors) == (0, 3)
    # The thread stopped at the third bad answer: at most the other connection's request was in flight.
    assert 3 <= len(recorder.requests) <= 4

    recorder.requests.clear()
    created = harness.http_load(port, path="/", seconds=3.0, max_requests=4, threads=1, expect_status=201)
    assert (created.ok, created.errors) == (0, 4)


@needs_wrk
def test_two_connections_count_every_good_answer_up_to_max_requests(server: tuple[int, Recorder]) -> None:
    harness = bench_module("harness")
    port, recorder = server
    started = time.monotonic()
    outcome = harness.http_load(port, path="/", seconds=3.0, max_requests=50, threads=2)
    wall = time.monotonic() - started
    assert (outcome.ok, outcome.errors) == (50, 0)
    assert 0 < outcome.seconds < 3.0
    # The round ends when the thread stops, not when wrk's -d (3 s) or the round's seconds run out.
    assert wall < 3.0
    # Answers after the 50th (the other connection's, in flight) are not counted, and no more are sent.
    assert 50 <= len(recorder.requests) <= 51


@needs_wrk
def test_the_load_is_bounded_in_time_and_sent_from_another_process(tmp_path: Path) -> None:
    """``seconds`` bounds a round, and the load costs this process next to no CPU: wrk sends it.

    The server is a process of its own here (``python -m http.server``), so this process's CPU time is the
    load generator's share alone; the ``http.client`` threads that sent the load before took most of it.
    """
    harness = bench_module("harness")
    (tmp_path / "index.html").write_text("ok")
    port = harness.free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with harness.serving(argv, port=port, log_path=tmp_path / "server.log", chdir=tmp_path, expect_body=b"ok"):
        cpu_before = time.process_time()
        started = time.monotonic()
        outcome = harness.http_load(port, path="/", seconds=1.0, max_requests=10_000_000, threads=2)
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu_before
    assert outcome.ok > 0 and outcome.errors == 0
    assert 0 < outcome.seconds <= 1.5
    assert wall < 1.0 + 5
    # Starting wrk and waiting for it costs a few milliseconds, whatever the answers; http.client threads in
    # this process cost some 200 microseconds of its CPU per answer (measured: 0.16 s for 683 answers).
    assert cpu < 0.05 + 20e-6 * outcome.ok, f"{cpu:.3f} s of this process's CPU for {outcome.ok} answers"


@needs_wrk
def test_a_server_that_never_answers_ends_the_round_at_its_time_bound() -> None:
    harness = bench_module("harness")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        # Listening, never accepting: connections complete in the backlog and no answer ever comes.
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = int(listener.getsockname()[1])
        started = time.monotonic()
        outcome = harness.http_load(port, path="/", seconds=0.5, max_requests=100, threads=2)
        wall = time.monotonic() - started
    assert (outcome.ok, outcome.errors) == (0, 0)
    assert wall < 0.5 + 3


def test_without_wrk_the_load_fails_and_the_http_benchmarks_are_skipped_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No silent fallback to another load generator: ``http_load`` refuses, the suites skip with ``WRK_MISSING``."""
    harness = bench_module("harness")
    bench_core = bench_module("bench_core")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not harness.wrk_available()
    with pytest.raises(harness.BenchError, match="wrk is not installed"):
        harness.http_load(1, path="/", seconds=0.1, max_requests=1, threads=1)
    if not harness.gunicorn_available():
        pytest.skip(harness.GUNICORN_MISSING)
    result = bench_core.bench_http(bench_core.QUICK, tmp_path)
    assert result == {"name": "requests_http", "title": result["title"], "skipped": harness.WRK_MISSING}


class _RedirectingHandler(BaseHTTPRequestHandler):
    """Answers a POST with 302: to ``/notes/7`` for the body ``good``, back to the form ``/notes/new`` for ``form``,
    else to the log-in page (whose query names ``/notes/``, as Django's ``next`` does)."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(302)
        location = {b"good": "http://127.0.0.1/notes/7", b"form": "/notes/new"}.get(body, "/login?next=/notes/new")
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads wrk's counts, not the server's log."""


@needs_wrk
def test_a_post_counts_only_if_it_redirects_where_expected_with_each_contenders_body() -> None:
    """wrk counts a POST's redirect as good only if its ``Location`` path matches (a redirect to the log-in page,
    or back to the form, has the same status), and ``alternate_http`` sends each contender its own body (its CSRF
    token)."""
    harness = bench_module("harness")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RedirectingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        load = functools.partial(
            harness.http_load,
            port,
            path="/notes/new",
            method="POST",
            seconds=0.3,
            max_requests=50,
            threads=1,
            expect_status=302,
            expect_location="^/notes/%d+$",
        )
        good = load(body=b"good")
        assert good.ok > 0 and good.errors == 0
        to_log_in = load(body=b"bad")
        assert to_log_in.ok == 0 and to_log_in.errors > 0
        back_to_the_form = load(body=b"form")
        assert back_to_the_form.ok == 0 and back_to_the_form.errors > 0
        plan = harness.RequestPlan(
            wsgi_rounds=0, wsgi_round_seconds=0.0, http_rounds=1, http_round_seconds=0.2, http_threads=1
        )

        def post_both(second_body: bytes) -> tuple[t.Any, int]:
            """Both contenders POST to the one server, ``first`` the good body, ``second`` ``second_body``."""
            return harness.alternate_http(
                plan,
                {"first": port, "second": port},
                path="/notes/new",
                method="POST",
                bodies={"first": b"good", "second": second_body},
                expect_status=302,
                expect_location="^/notes/%d+$",
                fail_on_error=True,
            )

        samples, failed = post_both(b"good")
        assert failed == 0 and all(rates[0] > 0 for rates in samples.values())
        with pytest.raises(harness.BenchError, match="second"):
            post_both(b"bad")
    finally:
        server.shutdown()
        server.server_close()
