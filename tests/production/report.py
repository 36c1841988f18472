"""The figures of each scenario, printed at the end of the run (``pytest_terminal_summary``)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field

from .accounting import MailCounts, WriteCounts


@dataclass
class Figures:
    """What one scenario measured and counted."""

    scenario: str
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    writes: WriteCounts | None = None
    mail: MailCounts | None = None
    mail_settled_seconds: float | None = None
    #: The ``tasks`` deployment's job rows enqueued during the scenario, by status at the end.
    jobs: dict[str, int] | None = None
    #: Other figures of the scenario, by name (recovery seconds, latencies...).
    extra: dict[str, str] = field(default_factory=dict)
    #: Tracebacks the app logged during the scenario (the first lines of each).
    app_errors: list[str] = field(default_factory=list)
    #: 5xx answers in gunicorn's access log, by ``METHOD /path status``.
    server_errors_by_route: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        """Requests sent."""
        return sum(self.statuses.values())

    @property
    def no_answer(self) -> int:
        """Requests that got no answer (refused, reset or timed out)."""
        return sum(n for label, n in self.statuses.items() if label.startswith("no answer"))

    def server_errors(self, *, allowed: frozenset[int] = frozenset()) -> int:
        """Answers with a 5xx status not in ``allowed``."""
        return sum(
            n
            for label, n in self.statuses.items()
            if label.isdigit() and int(label) >= 500 and int(label) not in allowed
        )

    def lines(self) -> list[str]:
        """The figures as lines of text."""
        statuses = ", ".join(f"{label} x{n}" for label, n in sorted(self.statuses.items()))
        lines = [f"[{self.scenario}] {self.requests} requests in {self.seconds:.1f} s: {statuses}"]
        if self.writes is not None:
            w = self.writes
            lines.append(
                f"  notes: {w.attempted} tried, {w.acknowledged} acknowledged, {len(w.lost)} lost, "
                f"{len(w.doubled)} doubled, {len(w.saved_unacknowledged)} saved without acknowledgement"
            )
            lines += [
                f"    saved, but answered {answers}: {title!r}" for title, answers in w.saved_unacknowledged.items()
            ]
        if self.mail is not None:
            m = self.mail
            settled = "" if self.mail_settled_seconds is None else f"; settled in {self.mail_settled_seconds:.1f} s"
            lines.append(
                f"  mail: {m.promised} promised, {m.queued} queued in the outbox {json.dumps(m.statuses)}, "
                f"{m.received} received, {len(m.lost)} lost, {len(m.doubled)} doubled, {m.uncertain} uncertain, "
                f"{m.outside_outbox} sent outside the outbox{settled}"
            )
        if self.jobs is not None:
            lines.append(f"  jobs: {sum(self.jobs.values())} enqueued, by status at the end {json.dumps(self.jobs)}")
        lines += [f"  {name}: {value}" for name, value in self.extra.items()]
        if self.server_errors_by_route:
            routes = ", ".join(f"{route} x{n}" for route, n in self.server_errors_by_route.most_common())
            lines.append(f"  5xx answers by route: {routes}")
        if self.app_errors:
            lines.append(f"  tracebacks in the app's log: {len(self.app_errors)}")
            lines += [f"    {error}" for error in self.app_errors[:5]]
        return lines


def latency_summary(seconds: list[float]) -> str:
    """``n, median and max`` of request durations, for printing (never asserted)."""
    if not seconds:
        return "none"
    return f"{len(seconds)} requests, median {statistics.median(seconds):.3f} s, max {max(seconds):.3f} s"


@dataclass
class Report:
    """Every scenario's figures, in the order they ran."""

    scenarios: list[Figures] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The whole report as lines of text."""
        lines = [*self.notes]
        for figures in self.scenarios:
            lines += figures.lines()
        return lines


__all__ = ["Figures", "Report", "latency_summary"]
