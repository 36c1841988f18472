"""Contract tests: requests generated from an app's OpenAPI document, every answer checked against it.

:func:`check_contract` loads the app's ``/api/openapi.json`` with
`schemathesis <https://schemathesis.readthedocs.io/>`_, generates requests for
every operation from the document's schemas (valid ones, and with
``negative=True`` invalid ones too) with a fixed seed and a bounded number of
examples, sends them to the app in process (WSGI, no server), and checks each
answer: no server error, a documented status, a documented media type (so
errors are ``application/problem+json``), a body valid against its schema, and
the documented headers. It needs schemathesis (``pip install
"erlen-api[contract]"``).
"""

from __future__ import annotations

import re
import time
import typing as t
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flask import Flask, url_for

from .docs import BLUEPRINT_NAME

#: The checks every answer must pass (schemathesis' names).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)


class ContractError(AssertionError):
    """Answers that break the OpenAPI document: the message lists each operation's failures."""


@dataclass
class ContractReport:
    """What :func:`check_contract` did.

    :param operations: the operations tested, as ``"METHOD /path"``.
    :param examples: how many requests were sent in all.
    :param seconds: how long it took.
    :param failures: per operation (and generation mode), what schemathesis found; empty when the contract holds.
    """

    operations: list[str] = field(default_factory=list)
    examples: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)


def check_contract(
    app: Flask,
    *,
    headers: Mapping[str, str] | None = None,
    exclude: Iterable[str] = (),
    max_examples: int = 10,
    negative: bool = True,
    time_limit: float = 60.0,
    raise_on_failure: bool = True,
    checks: Iterable[str] = CHECKS,
) -> ContractReport:
    """Send requests generated from ``app``'s OpenAPI document to ``app`` and check every answer against it.

    Every answer must pass :data:`CHECKS`. The generation is deterministic
    (Hypothesis derandomised, no example database), so a failure found once is
    found again.

    :param app: the app, with the ``api`` plugin and its APIs registered.
    :param headers: headers sent with every request, such as ``{"Authorization": "Bearer ..."}``;
        a header the document declares for an operation is generated only when not given here.
    :param exclude: regular expressions of OpenAPI paths (``/api/v1/items/{id}``) not to test, such as
        views that fail on purpose.
    :param max_examples: the most requests per operation and generation mode.
    :param negative: also send requests that break the document (wrong types, missing fields),
        which must be refused with a documented 4xx problem.
    :param time_limit: seconds after which the operations not yet tested are skipped (and listed as failures).
    :param raise_on_failure: raise :class:`ContractError` when anything failed, rather than only reporting it.
    :param checks: the names of schemathesis' checks to run on each answer; :data:`CHECKS` by default.
        Others are stricter: ``negative_data_rejection`` demands a 4xx for every request that breaks the
        document, which pydantic's lax mode does not give (it accepts ``"7"`` and ``true`` for an integer).
    :returns: the report.
    :raises ContractError: some answer broke the document (with ``raise_on_failure``).
    :raises ValueError: a name in ``checks`` is no check of schemathesis.
    :raises RuntimeError: schemathesis is not installed.
    """
    try:
        import schemathesis
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis.errors import Unsatisfiable
        from schemathesis import GenerationMode
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            'erlen_api.contract.check_contract needs schemathesis: pip install "erlen-api[contract]".'
        ) from None
    from schemathesis.checks import CHECKS as REGISTRY
    from schemathesis.checks import load_all_checks
    from schemathesis.core.result import Err

    load_all_checks()
    wanted = list(checks)
    unknown = sorted(set(wanted) - set(REGISTRY.get_all_names()))
    if unknown:
        raise ValueError(
            f"check_contract(checks=...): schemathesis has no check {', '.join(map(repr, unknown))}; "
            f"it has {', '.join(REGISTRY.get_all_names())}."
        )
    selected = REGISTRY.get_by_names(wanted)
    with app.test_request_context():
        url = url_for(f"{BLUEPRINT_NAME}.spec")
    schema = schemathesis.openapi.from_wsgi(url, app)
    patterns = [re.compile(pattern) for pattern in exclude]
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if negative else [GenerationMode.POSITIVE]
    fixed = dict(headers or {})
    report = ContractReport()
    started = time.monotonic()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.failures[f"document: {result.err()}"] = "schemathesis cannot read this operation of the document."
            continue
        operation = result.ok()
        if any(pattern.search(operation.path) for pattern in patterns):
            continue
        label = f"{operation.method.upper()} {operation.path}"
        report.operations.append(label)
        # Invalid requests break a path, a query parameter or the body; an operation with none of them (its
        # headers, such as If-None-Match, take any string) has none to make, and Hypothesis would search long.
        has_inputs = any(len(group) for group in (operation.path_parameters, operation.query, operation.body))
        for mode in modes if has_inputs else modes[:1]:
            name = f"{label} ({mode.value})"
            if time.monotonic() - started > time_limit:
                report.failures[name] = f"not tested: the time limit of {time_limit:g} s was reached."
                continue

            @given(case=operation.as_strategy(mode, headers=fixed or None))
            @settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,
                database=None,
                # No shrinking: a failure is reported as found, and a failing run stays as short as a passing one.
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: t.Any) -> None:
                report.examples += 1
                response = case.call(headers=fixed or None)
                case.validate_response(response, checks=selected, headers=fixed or None)

            try:
                run()
            except Unsatisfiable:
                # No request can break this operation's document (its inputs take any value): nothing to send.
                continue
            except BaseExceptionGroup as exc:  # schemathesis' FailureGroup: what broke the document, and how
                report.failures[name] = str(exc)
            except Exception as exc:  # raised by the app in process (TESTING propagates its exceptions)
                report.failures[name] = f"{type(exc).__name__}: {exc}"

    report.seconds = time.monotonic() - started
    if report.failures and raise_on_failure:
        listed = "\n\n".join(f"== {name}\n{text}" for name, text in sorted(report.failures.items()))
        raise ContractError(f"{len(report.failures)} operation(s) broke the OpenAPI document:\n\n{listed}")
    return report
