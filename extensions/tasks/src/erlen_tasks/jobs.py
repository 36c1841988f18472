"""Declared jobs: a function, its typed arguments and how it runs (queue, priority, timeout, retries).

A job is declared with :func:`job` and offered to the app by a plugin's
``erlen_tasks_jobs`` hook. Its arguments are checked when it is enqueued,
against the function's annotations (with pydantic), and stored as JSON: an
argument that JSON cannot carry back unchanged is refused then, not when the
worker runs the job.
"""

from __future__ import annotations

import inspect
import json
import math
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pydantic
import pydantic_core
from croniter import croniter  # type: ignore[import-untyped]  # no type hints shipped

from .errors import JobArgumentError, JobDeclarationError

#: Parameter names a job cannot have: they are enqueue()'s options.
RESERVED = frozenset({"eta", "delay", "session", "app"})

#: The highest priority a job may declare (0 runs first).
MAX_PRIORITY = 255


def _describe_errors(error: pydantic.ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{item['msg']}" + (f" (at {where})" if where else ""))
    return "; ".join(parts)


def _non_finite(value: t.Any, where: str) -> tuple[str, float] | None:
    """The first NaN or infinite float in ``value`` (plain data: dicts, lists, tuples, sets) and where it is.

    :param value: the value to search.
    :param where: its place, for the message (``"data.ratios[2]"``).
    :returns: the float's place and the float, or ``None`` when every float is finite.
    """
    if isinstance(value, float):
        return None if math.isfinite(value) else (where, value)
    if isinstance(value, Mapping):
        items: t.Iterable[tuple[str, t.Any]] = ((f"{where}.{key}", item) for key, item in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = ((f"{where}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for place, item in items:
        found = _non_finite(item, place)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Job:
    """A declared background job; made by :func:`job`.

    :param function: what the worker calls, with the job's arguments as keywords.
    :param name: the job's name, unique in the app (``module.function`` by default).
    :param queue: the queue it goes to; workers can be limited to some queues.
    :param priority: 0 (first) to 255; among the jobs waiting in one queue, lower runs first.
    :param timeout: seconds a run may last before it is interrupted (and counts as failed).
    :param retries: how many times a failed run is tried again before the job is dead.
    :param backoff: the shortest wait before the first retry, in seconds: it waits from ``backoff`` to twice
        that (random jitter), and each further one twice as long as the one before.
    :param max_backoff: the longest wait before a retry, in seconds: a longer one is drawn between half of it
        and all of it instead.
    :param cron: a cron expression (``"0 3 * * *"``): the job runs once per period, on one host.
    :param idempotency_key: a function of the job's arguments returning its key: a job whose key has
        already completed is skipped, and the key is recorded in the same transaction as the job's effect.
    """

    function: Callable[..., t.Any]
    name: str
    queue: str = "default"
    priority: int = 0
    timeout: float = 600.0
    retries: int = 3
    backoff: float = 15.0
    max_backoff: float = 3600.0
    cron: str | None = None
    idempotency_key: Callable[..., str] | None = None
    adapters: Mapping[str, pydantic.TypeAdapter[t.Any]] = field(default_factory=dict, repr=False, compare=False)
    signature: inspect.Signature | None = field(default=None, repr=False, compare=False)
    #: The arguments annotated ``int``, ``str`` or ``bool``, with that type: a value of exactly that type is
    #: stored as it is (what checking it would give back, at a tenth of the cost).
    plain: Mapping[str, type] = field(default_factory=dict, repr=False, compare=False)
    #: The parameters' names in order when every one may be passed by position or keyword (the usual
    #: signature), for binding a call without :meth:`inspect.Signature.bind`; ``None`` otherwise.
    simple_names: tuple[str, ...] | None = field(default=None, repr=False, compare=False)
    #: The parameters without a default value.
    required: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        """Run the job's function here and now (in tests, or from another job)."""
        return self.function(*args, **kwargs)

    def enqueue(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        """Enqueue a run of this job with the current transaction; see :func:`erlen_tasks.enqueue`."""
        from .enqueueing import enqueue

        return enqueue(self, *args, **kwargs)

    def dump_arguments(self, args: tuple[t.Any, ...], kwargs: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The arguments of one call, checked against the signature and converted to JSON values.

        :param args: positional arguments, as the function takes them.
        :param kwargs: keyword arguments.
        :raises JobArgumentError: an argument is missing, unknown, of the wrong type, or does not survive
            JSON; the message names the job and the argument.
        """
        arguments = self._bind_simply(args, kwargs)
        if arguments is None:
            assert self.signature is not None
            try:
                arguments = self.signature.bind(*args, **kwargs).arguments
            except TypeError as exc:
                raise JobArgumentError(f"Job {self.name!r}: {exc}.") from None
        dumped: dict[str, t.Any] = {}
        plain = self.plain
        for name, value in arguments.items():
            if type(value) is plain.get(name):
                dumped[name] = value  # an int, str or bool: JSON carries it back unchanged
                continue
            adapter = self.adapters[name]
            try:
                checked = adapter.validate_python(value)
            except pydantic.ValidationError as exc:
                raise JobArgumentError(f"Job {self.name!r}, argument {name!r}: {_describe_errors(exc)}.") from None
            try:
                as_json = adapter.dump_python(checked, mode="json")
                # allow_nan=False: JSON has no NaN nor infinity (Python's json would write them as non-standard
                # NaN and Infinity, and pydantic writes them as null).
                json.dumps(as_json, allow_nan=False)
                back = adapter.validate_python(as_json)
            except (pydantic_core.PydanticSerializationError, pydantic.ValidationError, TypeError, ValueError) as exc:
                self._refuse_non_finite(name, adapter, checked)
                raise JobArgumentError(
                    f"Job {self.name!r}, argument {name!r}: {value!r} cannot be stored as JSON ({exc}); "
                    "pass plain data (numbers, strings, lists, dicts, dates) or an annotated pydantic model."
                ) from None
            if back != checked:
                self._refuse_non_finite(name, adapter, checked)
                raise JobArgumentError(
                    f"Job {self.name!r}, argument {name!r}: {value!r} comes back from JSON as {back!r}; "
                    "annotate the parameter with a type that JSON carries back unchanged."
                )
            dumped[name] = as_json
        return dumped

    def _refuse_non_finite(self, name: str, adapter: pydantic.TypeAdapter[t.Any], checked: t.Any) -> None:
        """Refuse an argument holding a NaN or infinite float, naming the job, the argument and where it is.

        Called only for an argument JSON does not carry back: the check costs nothing to the others.

        :param name: the argument's name.
        :param adapter: its type's adapter.
        :param checked: its value, as the adapter checked it.
        :raises JobArgumentError: the argument holds a NaN or an infinity.
        """
        try:
            plain = adapter.dump_python(checked)  # a model's fields as a dict, the floats as they are
        except Exception:  # the caller explains a value that cannot be dumped
            return
        found = _non_finite(plain, name)
        if found is not None:
            where, number = found
            place = f" (at {where})" if where != name else ""
            raise JobArgumentError(
                f"Job {self.name!r}, argument {name!r}: {number!r}{place} is not a finite number, and JSON "
                "has no NaN nor infinity to store it as; pass a finite number, or None where the type allows it."
            )

    def _bind_simply(self, args: tuple[t.Any, ...], kwargs: Mapping[str, t.Any]) -> dict[str, t.Any] | None:
        """The arguments given by name, as ``Signature.bind(...).arguments`` has them, for a call that fits.

        Only for a signature of :attr:`simple_names`, and a call that binds: ``None`` otherwise (a
        signature of another kind, or a call ``bind`` refuses, which it then explains). A tenth of
        ``bind``'s cost.
        """
        names = self.simple_names
        if names is None or len(args) > len(names):
            return None
        arguments = dict(zip(names, args, strict=False))  # the first len(args) names
        if kwargs:
            for name in kwargs:
                if name in arguments or name not in self.adapters:
                    return None  # given twice, or unknown
            arguments.update(kwargs)
            # In the signature's order, as bind gives them, whatever the keywords' order.
            arguments = {name: arguments[name] for name in names if name in arguments}
        if len(arguments) < len(names) and not self.required <= arguments.keys():
            return None  # one is missing
        return arguments

    def load_arguments(self, stored: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The arguments stored by :meth:`dump_arguments`, converted back to the annotated types.

        :raises JobArgumentError: the stored arguments no longer fit the signature (the job changed
            while it was queued).
        """
        loaded: dict[str, t.Any] = {}
        plain = self.plain
        for name, value in stored.items():
            if type(value) is plain.get(name):
                loaded[name] = value  # an int, str or bool: what checking it would give back
                continue
            adapter = self.adapters.get(name)
            if adapter is None:
                raise JobArgumentError(f"Job {self.name!r} no longer has the argument {name!r} it was queued with.")
            try:
                loaded[name] = adapter.validate_python(value)
            except pydantic.ValidationError as exc:
                raise JobArgumentError(
                    f"Job {self.name!r}, queued argument {name!r}: {_describe_errors(exc)}."
                ) from None
        return loaded

    def key_for(self, arguments: Mapping[str, t.Any]) -> str | None:
        """The idempotency key of a run with ``arguments`` (as loaded), or ``None`` for a job without one."""
        if self.idempotency_key is None:
            return None
        key = self.idempotency_key(**arguments)
        if not isinstance(key, str) or not key:
            raise JobArgumentError(
                f"Job {self.name!r}: idempotency_key returned {key!r}; it must return a non-empty str."
            )
        return f"{self.name}:{key}"[:255]


def _adapters(
    function: Callable[..., t.Any], name: str
) -> tuple[inspect.Signature, dict[str, pydantic.TypeAdapter[t.Any]], dict[str, type]]:
    signature = inspect.signature(function)
    try:
        hints = t.get_type_hints(function)
    except Exception as exc:  # a NameError in a string annotation, typically
        raise JobDeclarationError(f"Job {name!r}: its annotations cannot be resolved ({exc}).") from None
    adapters: dict[str, pydantic.TypeAdapter[t.Any]] = {}
    plain: dict[str, type] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise JobDeclarationError(
                f"Job {name!r}: *{parameter.name} and **{parameter.name} are not allowed; "
                "declare each argument, with its type."
            )
        annotation = hints.get(parameter.name, t.Any)
        if annotation in (int, str, bool):
            plain[parameter.name] = annotation
        try:
            adapters[parameter.name] = pydantic.TypeAdapter(annotation)
        except pydantic.PydanticSchemaGenerationError as exc:
            raise JobDeclarationError(
                f"Job {name!r}, argument {parameter.name!r}: its type {annotation!r} cannot be checked or "
                f"stored as JSON ({exc.message})."
            ) from None
    return signature, adapters, plain


def job(
    function: Callable[..., t.Any] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str = "default",
    priority: int = 0,
    timeout: float = 600.0,
    retries: int = 3,
    backoff: float = 15.0,
    max_backoff: float = 3600.0,
    cron: str | None = None,
    idempotency_key: Callable[..., str] | None = None,
) -> t.Any:
    """Declare a background job (as ``@job`` or ``@job(queue="mail", retries=5)``); see :class:`Job`.

    Return the job from your plugin's ``erlen_tasks_jobs`` hook, and enqueue
    it with :func:`erlen_tasks.enqueue` (or ``the_job.enqueue(...)``).

    :raises JobDeclarationError: an option is out of range, the cron expression is invalid, or an
        argument's type cannot be stored as JSON.
    """

    def declare(function: Callable[..., t.Any]) -> Job:
        job_name = name or f"{function.__module__}.{function.__qualname__}"
        if not job_name or len(job_name) > 200:
            raise JobDeclarationError(f"Job {job_name!r}: its name must have 1 to 200 characters.")
        if not queue or len(queue) > 100 or not all(c.isalnum() or c in "-_." for c in queue):
            raise JobDeclarationError(
                f"Job {job_name!r}: queue {queue!r} must be 1 to 100 letters, digits, '-', '_' or '.'."
            )
        if not 0 <= priority <= MAX_PRIORITY:
            raise JobDeclarationError(f"Job {job_name!r}: priority must be from 0 to {MAX_PRIORITY}, not {priority!r}.")
        if timeout <= 0:
            raise JobDeclarationError(f"Job {job_name!r}: timeout must be more than 0 seconds, not {timeout!r}.")
        if retries < 0:
            raise JobDeclarationError(f"Job {job_name!r}: retries must be 0 or more, not {retries!r}.")
        if backoff <= 0 or max_backoff < backoff:
            raise JobDeclarationError(
                f"Job {job_name!r}: backoff must be more than 0 and at most max_backoff ({backoff!r}, {max_backoff!r})."
            )
        if cron is not None and not croniter.is_valid(cron):
            raise JobDeclarationError(
                f"Job {job_name!r}: {cron!r} is not a valid cron expression (such as '0 3 * * *')."
            )
        signature, adapters, plain = _adapters(function, job_name)
        reserved = RESERVED & set(signature.parameters)
        if reserved:
            raise JobDeclarationError(
                f"Job {job_name!r}: the argument names {sorted(reserved)} are taken by enqueue()'s own options; "
                "rename them."
            )
        if cron is not None:
            required = [p.name for p in signature.parameters.values() if p.default is p.empty]
            if required:
                raise JobDeclarationError(
                    f"Job {job_name!r}: a periodic (cron) job is called without arguments, but it requires {required}."
                )
        parameters = list(signature.parameters.values())
        simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)
        return Job(
            simple_names=tuple(p.name for p in parameters) if simple else None,
            required=frozenset(p.name for p in parameters if p.default is p.empty),
            function=function,
            name=job_name,
            queue=queue,
            priority=priority,
            timeout=float(timeout),
            retries=retries,
            backoff=float(backoff),
            max_backoff=float(max_backoff),
            cron=cron,
            idempotency_key=idempotency_key,
            adapters=adapters,
            signature=signature,
            plain=plain,
        )

    if function is not None:
        return declare(function)
    return declare


__all__ = ["MAX_PRIORITY", "Job", "job"]
