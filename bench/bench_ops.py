"""erlen-ops' cost per request, in instructions (callgrind): hello world without ops, with ops and its
metrics and tracing off, and with metrics on (in one process, and in the multiprocess mode gunicorn uses).

Targets (issue 18): ops enabled with metrics and tracing off within 1% of the app without it; with metrics
on within 10%.
"""

from __future__ import annotations

import sys
import tempfile
import typing as t
from pathlib import Path

import harness

BASELINE = "erlen (no ops)"
OFF = "erlen + ops, metrics and tracing off"
METRICS = "erlen + ops, metrics on (one process)"
MULTIPROCESS = "erlen + ops, metrics on (PROMETHEUS_MULTIPROC_DIR)"

#: Contender to (PLUGINS, OPS_METRICS, multiprocess).
CONTENDERS: dict[str, tuple[list[str], bool, bool]] = {
    BASELINE: ([], False, False),
    OFF: (["ops"], False, False),
    METRICS: (["ops"], True, False),
    MULTIPROCESS: (["ops"], True, True),
}

OFF_TARGET = harness.Target("<=", 1.01)
METRICS_TARGET = harness.Target("<=", 1.10)

CALLS_SCRIPT = """
import sys
sys.path.insert(0, {bench!r})
import harness
import erlen

plugins = sys.argv[1].split(",") if sys.argv[1] else []
app = erlen.create_app(
    "ops_bench_app",
    {{
        "PLUGINS": plugins,
        "SECRET_KEY": "a-secret-key-for-the-benchmark-only-0123456789",
        "OPS_METRICS": sys.argv[2] == "1",
    }},
    environ={{}},
)


@app.route("/")
def hello():
    return "Hello, World!"


call = harness.wsgi_caller(app, [harness.wsgi_environ("/", remote_addr="127.0.0.1")])
for _ in range(200):  # warm up: first-call caches, the metrics' label children
    call()
harness.mark()
for _ in range(int(sys.argv[3])):
    call()
"""


def count(name: str, script: Path, requests: int) -> float:
    """Instructions per request of the contender ``name``."""
    plugins, metrics, multiprocess = CONTENDERS[name]
    with tempfile.TemporaryDirectory(prefix="erlen-bench-prometheus-") as folder:
        env = harness.clean_env(PYTHONHASHSEED="0", **({"PROMETHEUS_MULTIPROC_DIR": folder} if multiprocess else {}))
        if not multiprocess:
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        parts = harness.instructions_by_part(
            [sys.executable, str(script), ",".join(plugins), "1" if metrics else "0", str(requests)],
            marks=1,
            cwd=script.parent,
            env=env,
            timeout=900,
        )
    return parts[1] / requests


def run(quick: bool) -> list[harness.Result]:
    title_off = "Instructions per hello-world request: erlen-ops enabled, metrics and tracing off (callgrind)"
    title_on = "Instructions per hello-world request: erlen-ops with metrics on (callgrind)"
    titles = {"ops_off_instructions": title_off, "ops_metrics_instructions": title_on}
    absent = harness.missing([("erlen_ops", "erlen-ops"), ("prometheus_client", "prometheus-client")])
    if absent:
        return harness.skipped_all(titles, harness.not_installed(absent))
    if not harness.valgrind_available():
        return harness.skipped_all(titles, harness.VALGRIND_MISSING)
    if quick:
        # Four runs under valgrind take minutes: too long for a smoke run.
        return harness.skipped_all(titles, "not counted in a --quick run")
    requests = 2000
    with tempfile.TemporaryDirectory(prefix="erlen-bench-ops-") as folder:
        script = Path(folder) / "ops_calls.py"
        script.write_text(CALLS_SCRIPT.format(bench=str(Path(__file__).resolve().parent)))
        samples = {name: [count(name, script, requests)] for name in CONTENDERS}
    notes = [
        f"valgrind --tool=callgrind of a subprocess that creates the app, warms up with 200 requests, then calls "
        f"the WSGI app {requests} times (harness.instructions_by_part: the count after the mark, divided by "
        "the requests)"
    ]
    off: dict[str, t.Sequence[float]] = {name: samples[name] for name in (BASELINE, OFF)}
    on: dict[str, t.Sequence[float]] = {name: samples[name] for name in (BASELINE, METRICS, MULTIPROCESS)}
    return [
        harness.compare(
            name="ops_off_instructions",
            title=title_off,
            unit="instructions/request",
            samples=off,
            baseline=BASELINE,
            subject=OFF,
            higher_is_better=False,
            target=OFF_TARGET,
            notes=notes,
        ),
        harness.compare(
            name="ops_metrics_instructions",
            title=title_on,
            unit="instructions/request",
            samples=on,
            baseline=BASELINE,
            subject=MULTIPROCESS,
            higher_is_better=False,
            target=METRICS_TARGET,
            notes=notes,
        ),
    ]


if __name__ == "__main__":
    for result in run("--quick" in sys.argv):
        print(harness.format_results("ops", [result]))
