"""In CI (``ERLEN_REQUIRE_SERVICES=1``) nothing in the cross-package suite may skip.

These tests skip on a developer's machine when an example, Chromium or a server
is missing; in CI every one of them is installed, so a skip means a missing
install step, and it fails the run instead of passing it silently.

Under pytest-xdist (nox runs ``-n auto``) the workers' browser tests hand their
screenshot folders to the controller, which loads only this conftest: it names
them at the end of the report.
"""

from __future__ import annotations

import typing as t
from collections.abc import Generator

import pytest

from erlen.testing import services_required

REQUIRE_EVERYTHING = services_required()


def _fail_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if REQUIRE_EVERYTHING and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but ERLEN_REQUIRE_SERVICES=1 requires it to run: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _fail_skip(report)
    return report


#: The screenshot folders of the browser tests of the pytest-xdist workers (tests/browser/conftest.py).
_WORKER_SCREENSHOT_DIRS = pytest.StashKey[list[str]]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: t.Any, error: object) -> None:
    """pytest-xdist's controller: note the screenshot folders of a worker that finished."""
    folders = getattr(node, "workeroutput", {}).get("erlen_screenshot_dirs", [])
    node.config.stash.setdefault(_WORKER_SCREENSHOT_DIRS, []).extend(folders)


def pytest_terminal_summary(terminalreporter: t.Any, exitstatus: int, config: pytest.Config) -> None:
    folders = dict.fromkeys(config.stash.get(_WORKER_SCREENSHOT_DIRS, []))
    if folders:
        terminalreporter.write_sep("-", "screenshots")
        for folder in folders:
            terminalreporter.write_line(f"Screenshots of the pages are in {folder}")
