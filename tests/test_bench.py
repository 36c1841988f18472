"""The benchmarks run end to end in their quick form, so they cannot rot between ``nox -s bench`` runs.

Figures are not checked: timings on shared machines prove nothing in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_run_reports_every_suite(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    suites = sorted(p.stem[len("bench_") :] for p in (ROOT / "bench").glob("bench_*.py"))
    assert suites
    for suite in suites:
        results = json.loads((tmp_path / f"{suite}.json").read_text())
        assert results, suite
    assert "ratio" in result.stdout
