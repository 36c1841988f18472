"""Run Erlen's benchmarks: ``python bench/run.py [--quick] [--only core]``.

Every ``bench/bench_<suite>.py`` module is a suite exposing
``run(quick: bool) -> list[dict]``. Each suite's figures are printed as a table
and written to ``bench/results/<suite>.json``. Timings never fail the run; it
exits non-zero only when a benchmark could not be carried out.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402 - needs BENCH_DIR on sys.path

DISTRIBUTIONS = ("erlen", "flask", "werkzeug", "pluggy", "click", "gunicorn")


def discover() -> dict[str, str]:
    """Suite name to module name, for every ``bench_<suite>.py`` beside this file, sorted."""
    return {path.stem.removeprefix("bench_"): path.stem for path in sorted(BENCH_DIR.glob("bench_*.py"))}


def versions() -> dict[str, str | None]:
    """The installed version of each distribution the benchmarks involve (``None``: not installed)."""
    found: dict[str, str | None] = {}
    for name in DISTRIBUTIONS:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def environment() -> dict[str, object]:
    """Where the figures come from: interpreter, machine, versions, and which erlen was imported."""
    erlen_spec = importlib.util.find_spec("erlen")
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
        "versions": versions(),
        "erlen_location": erlen_spec.origin if erlen_spec else None,
        "load_average": load_average(),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages: other work on the machine makes figures noisy."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def main(argv: list[str] | None = None) -> int:
    suites = discover()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (seconds, not minutes)")
    parser.add_argument("--only", nargs="+", choices=sorted(suites), metavar="SUITE", help="run only these suites")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results", help="where to write <suite>.json")
    args = parser.parse_args(argv)

    selected = {name: module for name, module in suites.items() if not args.only or name in args.only}
    env = environment()
    installed = ", ".join(f"{name} {number}" for name, number in versions().items() if number)
    print(
        f"Erlen benchmarks{' (quick)' if args.quick else ''}: Python {env['python']} on {env['platform']}, "
        f"{env['cpu_count']} CPUs, load average {env['load_average']}; {installed}"
    )
    failed = []
    started_all = time.perf_counter()
    for suite, module_name in selected.items():
        started = time.perf_counter()
        when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        try:
            module = importlib.import_module(module_name)
            results = module.run(args.quick)
        except Exception:
            traceback.print_exc()
            print(f"\n== {suite} == FAILED (see the traceback above)", flush=True)
            failed.append(suite)
            continue
        seconds = time.perf_counter() - started
        env["load_average_after"] = load_average()
        print()
        print(harness.format_results(suite, results))
        print(f"\n({suite}: {seconds:.1f} s; load average now {env['load_average_after']})", flush=True)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        path = args.results_dir / f"{suite}.json"
        document = {
            "suite": suite,
            "quick": args.quick,
            "started": when,
            "seconds": round(seconds, 2),
            "environment": env,
            "results": results,
        }
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {path}")
    print(f"\nTotal: {time.perf_counter() - started_all:.1f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
