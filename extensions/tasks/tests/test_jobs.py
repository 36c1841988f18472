"""Declaring jobs: options checked at declaration, arguments checked and made JSON at enqueue."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import typing as t

import pydantic
import pytest

from erlen_tasks import Job, JobArgumentError, JobDeclarationError, job


class Point(pydantic.BaseModel):
    x: int
    y: int


@job(name="t.typed")
def typed(user_id: int, when: dt.datetime, tags: list[str], point: Point, note: str | None = None) -> None:
    """A job with typed arguments."""


def test_job_keeps_its_options() -> None:
    @job(queue="mail", priority=5, timeout=30, retries=7, backoff=2, max_backoff=60)
    def send(user_id: int) -> None: ...

    assert isinstance(send, Job)
    assert send.name == f"{__name__}.test_job_keeps_its_options.<locals>.send"
    assert (send.queue, send.priority, send.timeout, send.retries, send.backoff, send.max_backoff) == (
        "mail", 5, 30.0, 7, 2.0, 60.0,
    )  # fmt: skip


def test_bare_decorator_and_direct_call() -> None:
    @job
    def add(a: int, b: int) -> int:
        return a + b

    assert add.queue == "default" and add.retries == 3
    assert add(2, 3) == 5


def test_arguments_become_json_and_come_back() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    dumped = typed.dump_arguments((3,), {"when": when, "tags": ("a", "b"), "point": Point(x=1, y=2)})
    assert dumped == {"user_id": 3, "when": "2026-01-02T03:04:05Z", "tags": ["a", "b"], "point": {"x": 1, "y": 2}}
    loaded = typed.load_arguments(dumped)
    assert loaded == {"user_id": 3, "when": when, "tags": ["a", "b"], "point": Point(x=1, y=2)}


def test_plain_arguments_are_stored_as_checking_them_would_store_them() -> None:
    class Level(enum.IntEnum):
        HIGH = 2

    class Name(str):
        pass

    @job(name="t.plain")
    def plain(count: int, label: str, flag: bool, level: int = 0) -> None: ...

    assert dict(plain.plain) == {"count": int, "label": str, "flag": bool, "level": int}
    cases = [
        ((2**70, "caf\u00e9 \ud800", False), {}),
        ((0, "", True), {"level": Level.HIGH}),  # an int subclass: checked, stored as a plain int
        ((1, Name("x"), True), {}),  # a str subclass: checked
    ]
    for args, kwargs in cases:
        dumped = plain.dump_arguments(args, kwargs)
        bound = plain.signature.bind(*args, **kwargs)  # type: ignore[union-attr]
        for name, value in bound.arguments.items():
            adapter = plain.adapters[name]
            assert dumped[name] == adapter.dump_python(adapter.validate_python(value), mode="json")
            assert type(dumped[name]) is plain.plain[name]
    with pytest.raises(JobArgumentError, match=r"argument 'count': Input should be a valid integer"):
        plain.dump_arguments(("many", "x", True), {})


def test_a_wrong_type_names_the_job_and_the_argument() -> None:
    with pytest.raises(JobArgumentError, match=r"Job 't.typed', argument 'user_id': Input should be a valid integer"):
        typed.dump_arguments(("three",), {"when": dt.datetime.now(dt.UTC), "tags": [], "point": {"x": 1, "y": 2}})


def test_missing_and_unknown_arguments() -> None:
    with pytest.raises(JobArgumentError, match=r"Job 't.typed': missing a required argument: 'when'"):
        typed.dump_arguments((1,), {})
    with pytest.raises(JobArgumentError, match=r"Job 't.typed': got an unexpected keyword argument 'colour'"):
        typed.dump_arguments((), {"user_id": 1, "when": None, "tags": [], "point": None, "colour": "red"})


def test_an_argument_that_does_not_survive_json_is_refused() -> None:
    @job(name="t.loose")
    def loose(thing: t.Any) -> None: ...

    with pytest.raises(JobArgumentError, match=r"Job 't.loose', argument 'thing': .*cannot be stored as JSON"):
        loose.dump_arguments((object(),), {})

    @job(name="t.decimal")
    def money(amount: t.Any) -> None: ...

    with pytest.raises(JobArgumentError, match=r"argument 'amount': Decimal\('1.5'\) comes back from JSON as '1.5'"):
        money.dump_arguments((decimal.Decimal("1.5"),), {})
    assert money.dump_arguments(({"a": [1, 2.5, None]},), {}) == {"amount": {"a": [1, 2.5, None]}}


class Ratios(pydantic.BaseModel):
    ratio: float


@job(name="t.floats")
def floats(ratio: float, table: dict[str, t.Any], ratios: list[float], model: Ratios | None = None) -> None:
    """A job with floats in every kind of argument."""


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("arguments", "argument", "place"),
    [
        (lambda x: {"ratio": x, "table": {}, "ratios": []}, "ratio", ""),
        (lambda x: {"ratio": 1.0, "table": {"a": [2, x]}, "ratios": []}, "table", " (at table.a[1])"),
        (lambda x: {"ratio": 1.0, "table": {}, "ratios": [0.5, x]}, "ratios", " (at ratios[1])"),
        (lambda x: {"ratio": 1.0, "table": {}, "ratios": [], "model": Ratios(ratio=x)}, "model", " (at model.ratio)"),
    ],
)
def test_a_nan_or_infinite_float_is_refused_naming_the_job_and_the_argument(
    number: float, arguments: t.Callable[[float], dict[str, t.Any]], argument: str, place: str
) -> None:
    """Before, NaN was refused as if its type were the trouble ("comes back from JSON as nan; annotate the
    parameter with a type that JSON carries back unchanged"), and an infinity was stored as JSON's
    non-standard ``Infinity`` (or as null, in a dict)."""
    with pytest.raises(JobArgumentError) as caught:
        floats.dump_arguments((), arguments(number))
    assert str(caught.value) == (
        f"Job 't.floats', argument {argument!r}: {number!r}{place} is not a finite number, and JSON has no NaN nor "
        "infinity to store it as; pass a finite number, or None where the type allows it."
    )
    assert floats.dump_arguments((), arguments(2.5))  # a finite number in its place is stored


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"priority": 300}, "priority must be from 0 to 255"),
        ({"timeout": 0}, "timeout must be more than 0"),
        ({"retries": -1}, "retries must be 0 or more"),
        ({"backoff": 10, "max_backoff": 1}, "backoff must be more than 0 and at most max_backoff"),
        ({"cron": "every day"}, "'every day' is not a valid cron expression"),
        ({"queue": "a b"}, "queue 'a b' must be"),
    ],
)
def test_bad_options_are_refused_at_declaration(options: dict[str, t.Any], message: str) -> None:
    with pytest.raises(JobDeclarationError, match=message):
        job(name="t.bad", **options)(lambda: None)


def test_signatures_that_cannot_be_checked_are_refused() -> None:
    def star(*args: int) -> None: ...

    with pytest.raises(JobDeclarationError, match=r"\*args and \*\*args are not allowed"):
        job(name="t.star")(star)

    def reserved(eta: int) -> None: ...

    with pytest.raises(JobDeclarationError, match=r"the argument names \['eta'\] are taken by enqueue"):
        job(name="t.reserved")(reserved)

    def needs(user_id: int) -> None: ...

    with pytest.raises(JobDeclarationError, match=r"a periodic \(cron\) job is called without arguments"):
        job(name="t.cron", cron="0 3 * * *")(needs)


def test_idempotency_key() -> None:
    @job(name="t.key", idempotency_key=lambda order_id: f"order-{order_id}")
    def charge(order_id: int) -> None: ...

    assert charge.key_for({"order_id": 4}) == "t.key:order-4"
    assert typed.key_for({}) is None

    @job(name="t.badkey", idempotency_key=lambda order_id: order_id)  # type: ignore[arg-type,return-value]
    def bad(order_id: int) -> None: ...

    with pytest.raises(JobArgumentError, match="idempotency_key returned 4; it must return a non-empty str"):
        bad.key_for({"order_id": 4})


def test_arguments_are_bound_as_the_signature_binds_them() -> None:
    # The simple binding (no Signature.bind) gives what bind gives, in its order; bind explains the refusals.
    import inspect

    @job(name="t.bound")
    def bound(a: int, b: str = "b", c: int = 3) -> None: ...

    @job(name="t.keyword_only")
    def keyword_only(a: int, *, b: str = "b") -> None: ...

    assert bound.simple_names == ("a", "b", "c") and keyword_only.simple_names is None
    calls: list[tuple[tuple[t.Any, ...], dict[str, t.Any]]] = [
        ((1,), {}),
        ((1, "x"), {}),
        ((1, "x", 5), {}),
        ((), {"a": 1}),
        ((), {"c": 5, "a": 1}),  # keywords out of order
        ((1,), {"c": 5}),
        ((1,), {"c": 5, "b": "y"}),
    ]
    for args, kwargs in calls:
        expected = dict(inspect.signature(bound.function).bind(*args, **kwargs).arguments)
        dumped = bound.dump_arguments(args, kwargs)
        assert dumped == expected and list(dumped) == list(expected), (args, kwargs)
    assert keyword_only.dump_arguments((1,), {"b": "y"}) == {"a": 1, "b": "y"}
    for args, kwargs, message in [
        ((), {}, "missing a required argument: 'a'"),
        ((), {"b": "y"}, "missing a required argument: 'a'"),
        ((1, "x", 5, 6), {}, "too many positional arguments"),
        ((1,), {"a": 2}, "multiple values for argument 'a'"),
        ((1,), {"d": 2}, "unexpected keyword argument 'd'"),
    ]:
        with pytest.raises(JobArgumentError, match=message):
            bound.dump_arguments(args, kwargs)


def test_a_message_is_stored_as_dramatiq_encodes_it() -> None:
    import dramatiq

    from erlen_tasks.enqueueing import encode_message

    message = dramatiq.Message(
        queue_name="q", actor_name="a", args=(), kwargs={"text": 'é\n"', "n": [1, 2.5, None]}, options={}
    )
    assert encode_message(message) == message.encode().decode()
    previous = dramatiq.get_encoder()

    class Marked(dramatiq.encoder.JSONEncoder):
        def encode(self, data: t.Any) -> bytes:
            return b"marked" + super().encode(data)

    dramatiq.set_encoder(Marked())
    try:
        assert encode_message(message).startswith("marked{")  # another encoder set: that one's text
    finally:
        dramatiq.set_encoder(previous)
