"""Request ids: taken from ``X-Request-ID`` when plausible, made otherwise, answered, readable in views."""

from __future__ import annotations

import re

import pytest
from flask import Flask

import erlen
from erlen.request_ids import MAX_LENGTH, valid_request_id

NEW_ID = re.compile(r"[0-9a-f]{32}")


# What an app with JSON logs does to the root logger is undone after each test.
pytestmark = pytest.mark.usefixtures("restore_logging")


def app_with(config: dict[str, object]) -> Flask:
    app = erlen.create_app("ids", config, environ={})
    app.add_url_rule("/", "show", lambda: erlen.request_id() or "none")
    return app


@pytest.mark.parametrize("config", [{"REQUEST_IDS": True}, {"LOG_FORMAT": "json"}])
def test_a_valid_id_is_kept_and_answered(config: dict[str, object]) -> None:
    client = app_with(config).test_client()
    for given in ("abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "Root=1-67891233-abcdef012345678912345678", "a"):
        response = client.get("/", headers={"X-Request-ID": given})
        assert response.headers["X-Request-ID"] == given == response.text


@pytest.mark.parametrize(
    "given", ["", "with space", 'quote"d', "new\nline", "é", "x" * (MAX_LENGTH + 1), "<script>", "a;b"]
)
def test_an_invalid_id_is_replaced(given: str) -> None:
    response = app_with({"REQUEST_IDS": True}).test_client().get("/", environ_base={"HTTP_X_REQUEST_ID": given})
    made = response.headers["X-Request-ID"]
    assert NEW_ID.fullmatch(made) and made == response.text and made != given


def test_a_missing_id_is_made_afresh_for_each_request() -> None:
    client = app_with({"REQUEST_IDS": True}).test_client()
    first, second = (client.get("/").headers["X-Request-ID"] for _ in range(2))
    assert NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second) and first != second


def test_the_header_is_configurable() -> None:
    client = app_with({"REQUEST_IDS": True, "REQUEST_ID_HEADER": "X-Correlation-ID"}).test_client()
    response = client.get("/", headers={"X-Correlation-ID": "corr-1", "X-Request-ID": "other"})
    assert response.text == "corr-1" and response.headers["X-Correlation-ID"] == "corr-1"
    assert "X-Request-ID" not in response.headers
    with pytest.raises(erlen.SettingError, match="REQUEST_ID_HEADER"):
        erlen.create_app("ids", {"REQUEST_ID_HEADER": "X Request"}, environ={})


def test_off_by_default() -> None:
    response = app_with({}).test_client().get("/", headers={"X-Request-ID": "abc"})
    assert response.text == "none" and "X-Request-ID" not in response.headers


def test_error_responses_carry_it_too() -> None:
    response = app_with({"REQUEST_IDS": True}).test_client().get("/missing", headers={"X-Request-ID": "e-1"})
    assert response.status_code == 404 and response.headers["X-Request-ID"] == "e-1"


def test_a_view_setting_the_header_wins() -> None:
    app = app_with({"REQUEST_IDS": True})
    app.add_url_rule("/own", "own", lambda: ("", 200, {"X-Request-ID": "mine"}))
    response = app.test_client().get("/own", headers={"X-Request-ID": "given"})
    assert response.headers.getlist("X-Request-ID") == ["mine"]


def test_none_outside_a_request() -> None:
    app = app_with({"REQUEST_IDS": True})
    assert erlen.request_id() is None
    with app.test_request_context("/"):
        assert erlen.request_id() is None  # no WSGI call went through the app


def test_validation() -> None:
    assert valid_request_id("a" * MAX_LENGTH) and not valid_request_id("a" * (MAX_LENGTH + 1))
    assert not valid_request_id(None) and not valid_request_id("")
