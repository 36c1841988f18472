"""erlen_ops.bounded.BoundedCalls: rounds of calls that must answer in time, run at once from several threads."""

from __future__ import annotations

import threading
import time

from erlen.testing import MakeApp
from erlen_ops.bounded import BoundedCalls, Outcome


def test_a_round_finding_a_call_another_round_is_running_waits_for_its_outcome(make_app: MakeApp) -> None:
    """Two scrapes at once: the second found the gauge running for the first and left it out of its answer
    (``still_running``, logged at debug only), so Prometheus servers scraping together saw gauges come and go.
    Now it waits for that run as the first does, and both answers hold its value, read once."""
    app = make_app(["ops"])
    entered = threading.Event()
    release = threading.Event()
    reads: list[int] = []

    def gauge() -> int:
        reads.append(threading.get_ident())
        entered.set()
        assert release.wait(60), "the test never released the gauge"
        return 7

    # The clock each round reads: the second round's second reading comes after it looked for a running call.
    clock_readers: list[int] = []

    def clock() -> float:
        clock_readers.append(threading.get_ident())
        return time.monotonic()

    calls = BoundedCalls(app, timeout=60, thread_prefix="erlen-test-bounded-", clock=clock)
    outcomes: dict[str, Outcome] = {}

    def round_of(label: str) -> threading.Thread:
        thread = threading.Thread(target=lambda: outcomes.update({label: calls.run({"gauge": gauge})["gauge"]}))
        thread.start()
        return thread

    first = round_of("first")
    assert entered.wait(60), "the first round never started the gauge"
    second = round_of("second")
    second_ident = t_ident(second)
    deadline = time.monotonic() + 60
    while clock_readers.count(second_ident) < 2 and second.is_alive():
        assert time.monotonic() < deadline, "the second round neither ended nor waited"
        time.sleep(0.01)
    release.set()
    first.join(60)
    second.join(60)
    assert not first.is_alive() and not second.is_alive()
    assert outcomes["first"].status == "ok" and outcomes["first"].value == 7
    assert outcomes["second"].status == "ok" and outcomes["second"].value == 7
    assert len(reads) == 1


def t_ident(thread: threading.Thread) -> int:
    """The started ``thread``'s identifier."""
    assert thread.ident is not None
    return thread.ident
