"""The benchmarks run end to end in their quick form, so they cannot rot between ``nox -s bench`` runs.

Figures are not checked: timings on shared machines prove nothing in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


#: The suites of the quick run's first half, about half of its time (startup and core are the longest); the other
#: half runs every other suite, so a new suite is in it.
QUICK_RUN_FIRST_HALF = ("startup", "core", "auth", "mail", "ops", "tasks")


def _every_suite() -> list[str]:
    return sorted(p.stem[len("bench_") :] for p in (ROOT / "bench").glob("bench_*.py"))


def _quick_run_reports_each_suite(tmp_path: Path, suites: list[str]) -> None:
    assert suites
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--only", *suites, "--results-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for suite in suites:
        results = json.loads((tmp_path / f"{suite}.json").read_text())
        assert results, suite
    assert "ratio" in result.stdout


# Two classes, so that pytest-xdist's --dist loadscope (nox's integration session) gives each half a worker of its
# own: the whole quick run in one test took 4 to 7 minutes, the longest test of tests/.
class TestQuickBenchmarkRunFirstHalf:
    def test_reports_every_suite_of_the_half(self, tmp_path: Path) -> None:
        suites = [suite for suite in _every_suite() if suite in QUICK_RUN_FIRST_HALF]
        assert len(suites) == len(QUICK_RUN_FIRST_HALF)
        _quick_run_reports_each_suite(tmp_path, suites)


class TestQuickBenchmarkRunSecondHalf:
    def test_reports_every_other_suite(self, tmp_path: Path) -> None:
        _quick_run_reports_each_suite(tmp_path, [s for s in _every_suite() if s not in QUICK_RUN_FIRST_HALF])


def test_instructions_by_part_counts_each_part_of_one_run(tmp_path: Path) -> None:
    """callgrind splits one run at each ``harness.mark()``: a part doing twice the work counts about twice as much.

    The API benchmark counts three endpoints in one run this way; the quick run above does not count.
    """
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import harness
    finally:
        sys.path.remove(str(ROOT / "bench"))
    script = tmp_path / "parts.py"
    # What harness.mark() does, without importing the harness (and Flask) under valgrind: seconds, not minutes.
    mark = f"os.{harness.MARK_FUNCTION}()"
    script.write_text(
        "import os\n\ndef work(n):\n    return sum(i * i for i in range(n))\n\n"
        f"work(1000)\n{mark}\nwork(20000)\n{mark}\nwork(40000)\n{mark}\n"
    )
    parts = harness.instructions_by_part(
        [sys.executable, str(script)], marks=3, cwd=tmp_path, env=harness.clean_env(), timeout=300
    )
    assert len(parts) == 4
    start_up, once, twice, _ = parts
    assert start_up > twice > once > 0
    assert 1.8 < twice / once < 2.2


def test_a_timing_taken_on_a_loaded_machine_is_not_judged() -> None:
    """Over ``LOAD_PER_CPU_LIMIT`` per CPU the table says the machine was too loaded, not that a target was missed."""
    import os

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import harness
    finally:
        sys.path.remove(str(ROOT / "bench"))
    cpus = os.cpu_count() or 1
    limit = harness.LOAD_PER_CPU_LIMIT * cpus

    def result(loads: list[float]) -> str:
        compared = harness.compare_rates(
            name="x",
            title="x",
            samples={"base": [100.0, 110.0], "subject": [90.0, 95.0]},
            baseline="base",
            subject="subject",
            target=harness.Target(">=", 1.3),
            notes=[],
        )
        return harness.format_results("suite", [harness.judged(compared, loads)])

    quiet = result([0.5, limit * 0.9])
    assert "NOT met" in quiet and "too loaded" not in quiet
    loaded = result([0.5, limit + 1])
    assert "NOT met" not in loaded
    assert f"too loaded (load average {limit + 1:.1f} on {cpus} CPUs" in loaded


def test_memory_by_package_names_what_each_worker_holds() -> None:
    """``bench/memory_by_package.py`` runs the workers of ``bench_startup`` and gives each package its own memory."""
    result = subprocess.run(
        [sys.executable, "bench/memory_by_package.py", "--requests", "5", "--top", "100", "classic", "three"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}
    classic, three = (int(float(kib)) for kib in rows["erlen_auth"])
    assert classic == 0 < three
    assert int(float(rows["flask_sqlalchemy"][0])) > 0 == int(float(rows["flask_sqlalchemy"][1]))
    assert int(float(rows["sqlalchemy"][0])) > 10_000
    assert int(float(rows["total"][1])) > int(float(rows["total"][0]))


def _bench_harness() -> types.ModuleType:
    """``bench/harness.py``, imported as the suites import it."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import harness
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return harness


def test_alternating_rounds_reverse_the_order_every_other_round() -> None:
    """With ``reverse_every_other`` no contender always follows the same one (the HTTP comparisons of three)."""
    harness = _bench_harness()
    calls: list[str] = []

    def contender(name: str) -> Callable[[], float]:
        def measure() -> float:
            calls.append(name)
            return 1.0

        return measure

    contenders = {name: contender(name) for name in "abc"}
    samples = harness.alternate(contenders, rounds=3, max_seconds=60, warmup=False, reverse_every_other=True)
    assert calls == list("abccbaabc")
    assert samples == {"a": [1.0] * 3, "b": [1.0] * 3, "c": [1.0] * 3}
    calls.clear()
    harness.alternate(contenders, rounds=2, max_seconds=60, warmup=False)
    assert calls == list("abcabc")


def test_the_table_keeps_big_figures_apart() -> None:
    """Counts of a billion instructions fill their columns: each column is as wide as its widest figure, so the
    median, min and max of a row stay apart (they ran together as ``618,655,563.0618,655,563.0``)."""
    harness = _bench_harness()
    compared = harness.compare(
        name="x",
        title="x",
        unit="instructions",
        samples={"plain": [618_655_563.0, 618_655_563.0], "six": [1_672_962_577.0, 1_672_962_579.0]},
        baseline="plain",
        subject="six",
        higher_is_better=False,
        target=None,
        notes=[],
    )
    table = harness.format_results("suite", [compared]).splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in table if line.startswith(("  plain ", "  six "))}
    assert rows["plain"][:4] == ["618,655,563", "618,655,563", "618,655,563", "2"]
    assert rows["six"][:4] == ["1,672,962,578", "1,672,962,577", "1,672,962,579", "2"]
