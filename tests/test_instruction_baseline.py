"""The regression guard: the example app's start-up and main pages cost at most 10% more than the baseline.

``bench/instructions.py`` counts, with valgrind's callgrind, the instructions of
the example app's start-up and of each of its main pages (hello, the notes index
logged out and logged in, the log-in page, a note's form POST, the admin's list of users); this test
compares them with ``bench/baseline.json``. Instruction counts repeat from run
to run, unlike timings, so a failure here is a change of the code: make it
cheaper again, or, when the cost is meant, refresh the baseline with
``python bench/instructions.py --write-baseline`` and commit it with the change.
"""

from __future__ import annotations

import gc
import shutil
import sys
import typing as t
from pathlib import Path

import pytest

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _import_instructions() -> t.Any:
    sys.path.insert(0, str(BENCH))
    try:
        import instructions
    finally:
        sys.path.remove(str(BENCH))
    return instructions


@pytest.fixture(scope="module")
def instructions():
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        pytest.skip("valgrind is not installed (Debian: apt-get install valgrind)")
    return _import_instructions()


def test_no_garbage_collection_is_counted_in_a_page(monkeypatch) -> None:
    # A full collection of the app's heap cost 3.8 million instructions, counted in the page before it: most of a
    # hello world's figure, which hid that page's regressions.
    instructions = _import_instructions()
    events: list[str] = []
    monkeypatch.setattr(instructions.harness, "mark", lambda: events.append("mark"))

    def note_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            events.append("collection")

    def kind(name: str) -> t.Callable[[], None]:
        return lambda: events.append(name)

    gc.callbacks.append(note_collection)
    try:
        instructions.count_kinds([kind("hello"), kind("index")])
    finally:
        gc.callbacks.remove(note_collection)
    parts = "".join(" | " if event == "mark" else f" {event}" for event in events).split("|")
    counted = [part.split() for part in parts if "hello" in part or "index" in part]
    assert counted == [["hello"] * instructions.REQUESTS, ["index"] * instructions.REQUESTS], events


def test_no_figure_grew_more_than_ten_percent(instructions) -> None:
    baseline = instructions.read_baseline()
    assert set(baseline) == set(instructions.MEASURES), f"refresh the baseline: {instructions.REFRESH}"
    figures = instructions.count()
    regressions = instructions.compare(figures, baseline)
    assert not regressions, (
        "Instructions grew more than 10% against bench/baseline.json:\n"
        + "\n".join(regressions)
        + f"\n\n{instructions.report(figures, baseline)}\n\nMake it cheaper again, or, when the cost is meant, "
        f"refresh the baseline with {instructions.REFRESH} and commit it with the change."
    )


def test_compare_flags_only_growth_beyond_the_tolerance(instructions) -> None:
    baseline = dict.fromkeys(instructions.MEASURES, 1000)
    assert instructions.compare(dict.fromkeys(instructions.MEASURES, 1100), baseline) == []
    assert instructions.compare(dict.fromkeys(instructions.MEASURES, 500), baseline) == []
    grown = {**baseline, "index": 1101}
    found = instructions.compare(grown, baseline)
    assert len(found) == 1 and found[0].startswith("index: 1,101 instructions, +10.1%")
    assert "no baseline" in instructions.compare(baseline, {})[0]
