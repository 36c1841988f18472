"""Shared helpers of Erlen's benchmarks.

Everything here is bounded: every loop stops after a number of iterations
*and* after a wall-clock budget, whichever comes first; every subprocess has a
timeout; every server is stopped in a ``finally``. Contenders are measured side
by side, alternating in rounds (A, B, A, B, ...), and compared by the ratio of
their medians. Timings are reported, never asserted: a benchmark fails only
when something does not work (a server that does not start, a wrong response).
"""

from __future__ import annotations

import compileall
import contextlib
import gc
import http.client
import importlib
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import typing as t
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: One benchmark's outcome, as ``run(quick)`` returns it and ``results/*.json`` stores it.
Result = dict[str, t.Any]

#: Environment variables that would change how an app or a CLI behaves; removed for subprocesses.
_APP_ENV_PREFIXES = ("ERLEN_", "FLASK_")


class BenchError(RuntimeError):
    """A benchmark could not run (as opposed to: it ran slowly)."""


# --------------------------------------------------------------------------- bounded loops


class Budget:
    """Iterate at most ``max_count`` times and for at most ``max_seconds``, whichever ends first.

    At least ``min_count`` iterations run, whatever the time, so that a round
    always produces a sample. The clock starts when iteration starts.
    """

    def __init__(self, max_count: int, max_seconds: float, *, min_count: int = 1) -> None:
        if max_count < 1 or max_seconds <= 0:
            raise ValueError("a budget needs max_count >= 1 and max_seconds > 0")
        self.max_count = max_count
        self.max_seconds = max_seconds
        self.min_count = min(min_count, max_count)

    def __iter__(self) -> Iterator[int]:
        deadline = time.perf_counter() + self.max_seconds
        for index in range(self.max_count):
            if index >= self.min_count and time.perf_counter() >= deadline:
                return
            yield index


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Collect garbage, then keep the collector off for the block (as :mod:`timeit` does)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def rate(call: Callable[[], object], *, seconds: float, max_calls: int, batch: int = 100) -> float:
    """Calls per second of ``call``, run in batches until ``seconds`` pass or ``max_calls`` were made."""
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while calls < max_calls:
        count = min(batch, max_calls - calls)
        for _ in range(count):
            call()
        calls += count
        if time.perf_counter() >= deadline:
            break
    return calls / (time.perf_counter() - started)


def mean_ms(
    call: Callable[[], object],
    *,
    seconds: float,
    max_calls: int,
    setup: Callable[[], object] | None = None,
) -> float:
    """Mean milliseconds per call of ``call`` over up to ``max_calls`` calls or ``seconds``.

    ``setup`` runs before each call, outside the timed region. The garbage
    collector is paused during the batch.
    """
    total = 0.0
    calls = 0
    with gc_paused():
        for _ in Budget(max_calls, seconds):
            if setup is not None:
                setup()
            started = time.perf_counter()
            call()
            total += time.perf_counter() - started
            calls += 1
    return total / calls * 1000


# --------------------------------------------------------------------------- alternating rounds


def alternate(
    contenders: Mapping[str, Callable[[], float]],
    *,
    rounds: int,
    max_seconds: float,
    warmup: bool = True,
) -> dict[str, list[float]]:
    """Sample every contender once per round, in turn (A, B, A, B, ...).

    Each callable measures one sample and returns it. Rounds stop after
    ``rounds`` or once ``max_seconds`` have passed (at least one round runs).
    With ``warmup``, each contender is run once first and that sample dropped.
    """
    if warmup:
        for measure in contenders.values():
            measure()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in Budget(rounds, max_seconds):
        for name, measure in contenders.items():
            gc.collect()
            samples[name].append(measure())
    return samples


@dataclass(frozen=True)
class Target:
    """A goal for the ratio ``subject / baseline`` of medians: ``ratio <op> value``."""

    op: t.Literal[">=", "<="]
    value: float

    def met(self, ratio: float) -> bool:
        return ratio >= self.value if self.op == ">=" else ratio <= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def compare(
    *,
    name: str,
    title: str,
    unit: str,
    samples: Mapping[str, Sequence[float]],
    baseline: str,
    subject: str,
    higher_is_better: bool,
    target: Target | None = None,
    notes: Sequence[str] = (),
    extra: Mapping[str, t.Any] | None = None,
) -> Result:
    """Summarise alternating samples: the median of each contender and its ratio to ``baseline``.

    ``subject`` names the contender whose ratio the ``target`` applies to;
    every other contender gets an informational ratio too.
    """
    base = statistics.median(samples[baseline])
    contenders = []
    for contender, values in samples.items():
        median = statistics.median(values)
        contenders.append(
            {
                "name": contender,
                "median": median,
                "min": min(values),
                "max": max(values),
                "n": len(values),
                "ratio": median / base if base else None,
                "samples": list(values),
            }
        )
    ratio = statistics.median(samples[subject]) / base if base else float("nan")
    # Samples of one round were taken back to back, so their ratios cancel slow drift (other load on the machine).
    paired = [s / b for s, b in zip(samples[subject], samples[baseline], strict=True) if b]
    return {
        "name": name,
        "title": title,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "baseline": baseline,
        "subject": subject,
        "contenders": contenders,
        "ratio": ratio,
        "paired_ratio": statistics.median(paired) if paired else None,
        "target": str(target) if target else None,
        "target_met": target.met(ratio) if target else None,
        "paired_target_met": target.met(statistics.median(paired)) if target and paired else None,
        "notes": list(notes),
        "extra": dict(extra or {}),
    }


def skipped(*, name: str, title: str, reason: str) -> Result:
    """A benchmark that could not run here, with the reason (shown in the table and the JSON)."""
    return {"name": name, "title": title, "skipped": reason}


# --------------------------------------------------------------------------- temporary modules


@contextlib.contextmanager
def module_dir(prefix: str = "erlen-bench-") -> Iterator[Path]:
    """A temporary folder on ``sys.path`` for generated modules; removed (and its modules forgotten) after."""
    root = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield root
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(root))
        forget_modules(root)
        shutil.rmtree(root, ignore_errors=True)


def forget_modules(root: Path) -> None:
    """Remove from ``sys.modules`` every module loaded from a file under ``root``."""
    prefix = str(root) + os.sep
    for module_name, module in list(sys.modules.items()):
        module_file = getattr(module, "__file__", None) or ""
        if module_file.startswith(prefix):
            del sys.modules[module_name]
    importlib.invalidate_caches()


def compile_tree(root: Path) -> None:
    """Write the bytecode of every module under ``root``, so imports load it as they would once installed."""
    if not compileall.compile_dir(str(root), quiet=1):
        raise BenchError(f"generated modules under {root} do not compile")


def write_module(root: Path, dotted: str, source: str) -> Path:
    """Write ``source`` as the module ``dotted`` under ``root``, creating packages on the way."""
    *packages, module = dotted.split(".")
    folder = root
    for package in packages:
        folder = folder / package
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").touch()
    path = folder / f"{module}.py"
    path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- subprocesses


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without ``ERLEN_*``/``FLASK_*`` variables, plus ``extra``.

    ``PYTHONDONTWRITEBYTECODE`` is dropped too, so that subprocesses cache
    bytecode as an installed app does; otherwise a package imported from a
    source tree without ``__pycache__`` (an editable install) would be
    compiled anew by every run while site-packages come precompiled.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_APP_ENV_PREFIXES) and key != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(extra)
    return env


def venv_executable(name: str) -> Path | None:
    """The console script ``name`` next to the running interpreter, if there is one."""
    folder = Path(sys.executable).parent
    for candidate in (folder / name, folder / f"{name}.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_checked(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[str, str]:
    """Run a command once, failing with its output unless it exits 0; return its stdout and stderr."""
    try:
        completed = subprocess.run(
            list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)} did not finish within {timeout:g} s") from exc
    if completed.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)} exited with {completed.returncode}:\n{completed.stdout}\n{completed.stderr}".rstrip()
        )
    return completed.stdout, completed.stderr


def wall_ms(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> float:
    """Wall-clock milliseconds of one run of a command (output discarded); it must exit 0."""
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)} did not finish within {timeout:g} s") from exc
    elapsed = (time.perf_counter() - started) * 1000
    if completed.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited with {completed.returncode}: {completed.stderr.decode()}")
    return elapsed


# --------------------------------------------------------------------------- HTTP server and client


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_available() -> bool:
    return importlib.util.find_spec("gunicorn") is not None


@contextlib.contextmanager
def gunicorn_server(
    app: str,
    *,
    chdir: Path,
    expect_body: bytes,
    path: str = "/",
    start_timeout: float = 30.0,
) -> Iterator[int]:
    """Serve ``app`` (``module:variable`` importable from ``chdir``) with gunicorn, 1 sync worker.

    Yields the port once ``GET path`` answers 200 with ``expect_body``. The
    server (arbiter and worker, in their own process group) is stopped on exit,
    whatever happens.
    """
    port = free_port()
    log_path = chdir / f"gunicorn-{app.replace(':', '-')}-{port}.log"
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(chdir),
        "--pythonpath",
        str(chdir),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "sync",
        "--graceful-timeout",
        "3",
        "--log-level",
        "warning",
        app,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=chdir, env=clean_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_until_serving(process, port, path, expect_body, start_timeout, log_path)
            yield port
        finally:
            _stop(process)


def _wait_until_serving(
    process: subprocess.Popen[bytes], port: int, path: str, expect_body: bytes, timeout: float, log_path: Path
) -> None:
    last_error = "no attempt"
    for _ in Budget(10_000, timeout):
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with {process.returncode}:\n{_tail(log_path)}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status == 200 and body == expect_body:
                return
            raise BenchError(f"GET {path} answered {response.status} {body[:200]!r}, expected 200 {expect_body!r}")
        except OSError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        time.sleep(0.05)
    raise BenchError(f"gunicorn did not serve within {timeout:g} s ({last_error}):\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    # The worker is in the arbiter's process group (its own session); end any straggler by that id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class LoadOutcome:
    """What one load round achieved."""

    ok: int
    errors: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def http_load(
    port: int,
    *,
    path: str = "/",
    paths: Sequence[str] = (),
    seconds: float,
    max_requests: int,
    threads: int,
    max_errors: int = 50,
    headers: Mapping[str, str] | None = None,
) -> LoadOutcome:
    """Send ``GET path`` to 127.0.0.1:``port`` from ``threads`` client threads for ``seconds``.

    With ``paths``, the requests go to them in turn instead (request ``n`` to
    ``paths[n % len(paths)]``, counted across all threads). Each thread keeps
    an ``http.client`` connection (HTTP/1.1 keep-alive; it reconnects by itself
    when the server closes, as gunicorn's sync worker does after every
    response). Stops after ``seconds``, ``max_requests`` in all, or
    ``max_errors`` failed requests, whichever comes first. ``headers`` are
    sent with every request (a session ``Cookie``, say).
    """
    sent_headers = dict(headers or {})
    lock = threading.Lock()
    counts = {"ok": 0, "errors": 0, "sent": 0}
    deadline = time.perf_counter() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if counts["sent"] >= max_requests or counts["errors"] >= max_errors:
                        return
                    target = paths[counts["sent"] % len(paths)] if paths else path
                    counts["sent"] += 1
                try:
                    connection.request("GET", target, headers=sent_headers)
                    response = connection.getresponse()
                    response.read()
                    good = response.status == 200
                except (OSError, http.client.HTTPException):
                    connection.close()
                    good = False
                with lock:
                    counts["ok" if good else "errors"] += 1
        finally:
            connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 10)
    elapsed = time.perf_counter() - started
    return LoadOutcome(ok=counts["ok"], errors=counts["errors"], seconds=elapsed)


# --------------------------------------------------------------------------- output


def _format_value(value: float, unit: str) -> str:
    if unit == "req/s":
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3f}"


def format_results(suite: str, results: Sequence[Result]) -> str:
    """A plain-text table of ``results``: each contender's median and ratio, then the target."""
    lines = [f"== {suite} =="]
    for result in results:
        lines.append("")
        lines.append(result["title"])
        if "skipped" in result:
            lines.append(f"  SKIPPED: {result['skipped']}")
            continue
        unit = result["unit"]
        width = max(len(c["name"]) for c in result["contenders"]) + 2
        better = "higher" if result["higher_is_better"] else "lower"
        lines.append(
            f"  {'contender':<{width}}{'median ' + unit:>16}{'min':>12}{'max':>12}{'n':>5}"
            f"{'ratio':>9}   ({better} is better; ratio = median / median of {result['baseline']})"
        )
        for contender in result["contenders"]:
            ratio = contender["ratio"]
            lines.append(
                f"  {contender['name']:<{width}}{_format_value(contender['median'], unit):>16}"
                f"{_format_value(contender['min'], unit):>12}{_format_value(contender['max'], unit):>12}"
                f"{contender['n']:>5}{'' if ratio is None else f'{ratio:.3f}':>9}"
            )
        summary = f"  ratio {result['subject']} / {result['baseline']} = {result['ratio']:.3f}"
        if result.get("paired_ratio") is not None:
            summary += f" (median of per-round ratios {result['paired_ratio']:.3f})"
        if result["target"]:
            summary += f"   target {result['target']}: {'met' if result['target_met'] else 'NOT met'}"
            if result.get("paired_target_met") is not None:
                summary += f" (by per-round ratios: {'met' if result['paired_target_met'] else 'NOT met'})"
        lines.append(summary)
        for key, value in result["extra"].items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"  {key}: {shown}")
        for note in result["notes"]:
            lines.append(f"  note: {note}")
    return "\n".join(lines)
