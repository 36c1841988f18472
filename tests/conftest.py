"""In CI (``ERLEN_REQUIRE_SERVICES=1``) nothing in the cross-package suite may skip.

These tests skip on a developer's machine when an example, Chromium or a server
is missing; in CI every one of them is installed, so a skip means a missing
install step, and it fails the run instead of passing it silently.
"""

from __future__ import annotations

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
