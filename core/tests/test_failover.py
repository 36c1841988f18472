from __future__ import annotations

import logging
import threading

import pytest

from erlen.failover import Failover, ServiceHealth, describe_error, describe_location

LOGGER = "tests.failover"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Service:
    """A service that answers, or refuses with ConnectionRefusedError while ``down``; counts its calls."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.down:
            raise ConnectionRefusedError("Connection refused")
        return "service"


def make_failover(clock: Clock, retry_interval: float = 5.0) -> Failover:
    return Failover(
        service="Redis at cache:6379",
        while_down="counts are kept in this process's memory",
        when_back="counts are kept there again",
        errors=(OSError,),
        logger=logging.getLogger(LOGGER),
        retry_interval=retry_interval,
        clock=clock,
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def test_the_recovery_counts_the_operations_that_failed_during_the_outage_when_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A process that tries a service over and over (the relay, pass after pass) says at the recovery how many
    of its operations failed meanwhile, those that raised and those served by the stand-in; the next outage
    counts from one again."""
    clock, service = Clock(), Service()
    failover = Failover(
        service="The stubbed database",
        while_down="jobs wait",
        when_back="jobs are handed over again",
        errors=(OSError,),
        logger=logging.getLogger(LOGGER),
        retry_interval=5.0,
        clock=clock,
        counted="relay passes",
    )
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for outage, (raised, stood_in) in enumerate([(3, 2), (1, 0)]):
        service.down = True
        for _try in range(raised):
            failover.run(service, lambda: "stand-in")  # raises: logged once, then counted
            for _stand_in in range(stood_in if _try == 0 else 0):
                failover.run(service, lambda: "stand-in")  # within the retry interval: the stand-in, counted
            clock.now += 5
        service.down = False
        assert failover.run(service, lambda: "stand-in") == "service"
        back = messages(caplog)[2 * outage + 1]
        assert back.startswith("The stubbed database answers again after "), back
        assert back.endswith(f" s (failed relay passes: {raised + stood_in}): jobs are handed over again."), back
    assert len(messages(caplog)) == 4


def test_an_outage_is_served_by_the_stand_in_logged_once_and_ends_when_the_service_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, service = Clock(), Service()
    failover = make_failover(clock)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    assert failover.run(service, lambda: "stand-in") == "service"
    assert failover.outage() is None

    service.down = True
    assert [failover.run(service, lambda: "stand-in") for _ in range(3)] == ["stand-in"] * 3
    assert service.calls == 2  # the failing call; the next ones wait for the retry interval
    outage = failover.outage()
    assert outage is not None and outage[1] == "ConnectionRefusedError: Connection refused"
    assert messages(caplog) == [
        "Redis at cache:6379 cannot be reached (ConnectionRefusedError: Connection refused): counts are kept in "
        "this process's memory until it answers again (tried every 5 s)."
    ]

    clock.now += 5  # the retry time: one call tries, fails again, and the outage is not logged twice
    assert failover.run(service, lambda: "stand-in") == "stand-in"
    assert service.calls == 3 and len(messages(caplog)) == 1

    service.down = False
    assert failover.run(service, lambda: "stand-in") == "stand-in"  # the next try is 5 s away
    clock.now += 5
    assert failover.run(service, lambda: "stand-in") == "service"
    assert failover.outage() is None
    assert messages(caplog)[1].startswith("Redis at cache:6379 answers again after ")
    assert messages(caplog)[1].endswith(" s: counts are kept there again.")
    assert failover.run(service, lambda: "stand-in") == "service" and len(messages(caplog)) == 2


def test_health_says_which_is_in_use_since_when_and_why() -> None:
    clock, service = Clock(), Service()
    failover = make_failover(clock)
    assert failover.health("redis", "counting in memory") == ServiceHealth("redis", stand_in="counting in memory")
    assert str(failover.health("redis", "counting in memory")) == "redis: ok"
    # What is done meanwhile is the line's wording, not part of the state compared.
    assert failover.health("redis", "counting in memory") == ServiceHealth("redis")

    service.down = True
    failover.run(service, lambda: "stand-in")
    health = failover.health("redis", "counting in memory")
    assert health.degraded and health.since is not None
    assert health.reason == "ConnectionRefusedError: Connection refused"
    assert str(health) == (
        f"redis: degraded, counting in memory since {health.since:%Y-%m-%d %H:%M:%S} UTC "
        "(ConnectionRefusedError: Connection refused)"
    )

    service.down = False
    clock.now += 5
    failover.run(service, lambda: "stand-in")
    assert not failover.health("redis", "counting in memory").degraded


def test_a_zero_retry_interval_tries_the_service_on_every_call() -> None:
    clock, service = Clock(), Service()
    failover = make_failover(clock, retry_interval=0)
    service.down = True
    assert [failover.run(service, lambda: "stand-in") for _ in range(3)] == ["stand-in"] * 3
    assert service.calls == 3


def test_other_errors_are_not_an_outage() -> None:
    failover = make_failover(Clock())

    def broken() -> str:
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        failover.run(broken, lambda: "stand-in")
    assert failover.outage() is None


def test_while_one_call_tries_a_hung_service_the_others_keep_to_the_stand_in() -> None:
    clock = Clock()
    failover = make_failover(clock)
    down = Service()
    down.down = True
    failover.run(down, lambda: "stand-in")
    clock.now += 5
    trying, release = threading.Event(), threading.Event()

    def hung() -> str:
        trying.set()
        assert release.wait(10)
        return "service"

    results: list[str] = []
    tryer = threading.Thread(target=lambda: results.append(failover.run(hung, lambda: "stand-in")))
    tryer.start()
    try:
        assert trying.wait(10)
        # The retry is claimed by the call in progress: this one does not wait on the hung service.
        assert failover.run(hung, lambda: "stand-in") == "stand-in"
    finally:
        release.set()
        tryer.join(10)
    assert results == ["service"] and failover.outage() is None


def test_errors_are_described_by_their_class_and_message() -> None:
    assert describe_error(TimeoutError("Timeout reading from socket")) == "TimeoutError: Timeout reading from socket"
    assert describe_error(TimeoutError()) == "TimeoutError"


@pytest.mark.parametrize(
    ("url", "described"),
    [
        ("redis://:s3cret@cache.internal:6380/0", "cache.internal:6380"),
        ("redis://user:s3cret@cache.internal/0", "cache.internal:6379"),
        ("unix:///run/redis/redis.sock", "/run/redis/redis.sock"),
        ("redis://cache:notaport/0", "the configured URL"),
        ("redis://[::1]:6380/0", "[::1]:6380"),
    ],
)
def test_locations_name_the_host_and_port_never_the_password(url: str, described: str) -> None:
    assert describe_location(url, 6379) == described


def test_a_call_that_did_not_reach_the_service_neither_ends_the_outage_nor_uses_up_the_retry_turn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A call served from a client's cache returns during the outage: it said "answers again" before."""
    clock, service = Clock(), Service()
    failover = make_failover(clock)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    service.down = True
    assert failover.run(service, lambda: "stand-in") == "stand-in"
    clock.now += 5  # the retry time: this call took the turn, and returned without asking the service
    assert failover.run(lambda: "cached", lambda: "stand-in", reached=lambda: False) == "cached"
    assert failover.outage() is not None and len(messages(caplog)) == 1
    assert failover.run(service, lambda: "stand-in") == "stand-in"
    assert service.calls == 2  # the turn was given back: the next call tried the service
    clock.now += 5
    service.down = False
    assert failover.run(service, lambda: "stand-in", reached=lambda: True) == "service"
    assert failover.outage() is None and messages(caplog)[1].startswith("Redis at cache:6379 answers again after ")


def test_the_outage_message_says_how_a_process_that_tries_on_demand_tries_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failover = Failover(
        service="Redis at cache:6379",
        while_down="counts are kept in this process's memory",
        when_back="counts are kept there again",
        errors=(OSError,),
        logger=logging.getLogger(LOGGER),
        retried="tried again with the next log-in",
    )
    caplog.set_level(logging.WARNING, logger=LOGGER)
    service = Service()
    service.down = True
    failover.run(service, lambda: "stand-in")
    assert messages(caplog) == [
        "Redis at cache:6379 cannot be reached (ConnectionRefusedError: Connection refused): counts are kept in "
        "this process's memory until it answers again (tried again with the next log-in)."
    ]
