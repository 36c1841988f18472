from __future__ import annotations

import time
import typing as t

import pytest
from flask import Blueprint, Flask, render_template_string, session
from forms_helpers import page_token, token_in
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

import erlen_forms
from erlen.testing import TESTING_SECRET_KEY, MakeApp
from erlen_forms.csrf import SALT, SESSION_KEY
from erlen_forms.testing import csrf_token_for

FORM_PAGE = '<form method="post">{{ csrf_field() }}<input name="text"></form>'


def add_routes(app: Flask) -> Flask:
    @app.route("/form", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def form() -> t.Any:
        if erlen_forms.Form.is_submitted():
            return "accepted"
        return render_template_string(FORM_PAGE)

    @app.route("/token")
    def token() -> str:
        return erlen_forms.csrf_token()

    return app


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return add_routes(make_app(["forms"]))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_state_changing_methods_without_token_are_refused_with_a_page(client: t.Any, method: str) -> None:
    response = client.open("/form", method=method, data={"text": "x"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "The form could not be accepted" in page
    assert "The CSRF token is missing" in page


def test_json_requests_get_a_json_error(client: t.Any) -> None:
    response = client.post("/form", json={"text": "x"})
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "csrf",
        "reason": "missing",
        "message": "The CSRF token is missing. Send it in the form field 'csrf_token' or the header 'X-CSRF-Token'.",
    }


def test_clients_that_accept_json_get_a_json_error(client: t.Any) -> None:
    response = client.delete("/form", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_are_never_checked(client: t.Any, method: str) -> None:
    assert client.open("/form", method=method).status_code == 200


def test_trace_is_never_checked(app: Flask) -> None:
    @app.route("/trace", methods=["TRACE"])
    def trace() -> str:
        return "traced"

    assert app.test_client().open("/trace", method="TRACE").status_code == 200


def test_token_from_the_form_field(client: t.Any) -> None:
    token = page_token(client, "/form")
    response = client.post("/form", data={"text": "x", "csrf_token": token})
    assert response.status_code == 200
    assert response.data == b"accepted"


def test_token_from_a_multipart_form(client: t.Any) -> None:
    token = page_token(client, "/form")
    response = client.post("/form", data={"csrf_token": token, "text": "x"}, content_type="multipart/form-data")
    assert response.data == b"accepted"


@pytest.mark.parametrize("header", ["X-CSRF-Token", "X-CSRFToken"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_token_from_a_header(client: t.Any, header: str, method: str) -> None:
    token = client.get("/token").get_data(as_text=True)
    response = client.open("/form", method=method, json={"text": "x"}, headers={header: token})
    assert response.status_code == 200


def test_header_names_are_a_setting(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms"], {"FORMS_CSRF_HEADERS": ["X-My-Token"]}))
    client = app.test_client()
    token = client.get("/token").get_data(as_text=True)
    assert client.post("/form", headers={"X-CSRF-Token": token}).status_code == 400
    assert client.post("/form", headers={"X-My-Token": token}).status_code == 200


def test_field_name_is_a_setting(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms"], {"FORMS_CSRF_FIELD_NAME": "_token"}))
    client = app.test_client()
    html = client.get("/form").get_data(as_text=True)
    assert 'name="_token"' in html
    token = html.split('value="')[1].split('"')[0]
    assert client.post("/form", data={"_token": token}).status_code == 200
    assert client.post("/form", data={"csrf_token": token}).status_code == 400


def test_several_tabs_keep_working(client: t.Any) -> None:
    tabs = [page_token(client, "/form") for _ in range(3)]
    later = client.get("/token").get_data(as_text=True)
    # Submit in any order, each more than once: no token is used up or replaced.
    for token in [tabs[2], tabs[0], later, tabs[1], tabs[0], tabs[2]]:
        assert client.post("/form", data={"csrf_token": token}).status_code == 200


def test_an_invalid_token_is_refused(client: t.Any) -> None:
    client.get("/form")
    response = client.post("/form", data={"csrf_token": "forged"}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["reason"] == "invalid"


def test_a_token_of_another_session_is_refused(app: Flask) -> None:
    victim, attacker = app.test_client(), app.test_client()
    victim.get("/form")
    attackers_token = page_token(attacker, "/form")
    response = victim.post("/form", data={"csrf_token": attackers_token}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["reason"] == "invalid"


def test_a_token_without_a_session_is_refused(app: Flask) -> None:
    token = page_token(app.test_client(), "/form")
    response = app.test_client().post("/form", data={"csrf_token": token}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["reason"] == "no-session"


def test_a_token_signed_with_another_key_is_refused(client: t.Any) -> None:
    client.get("/token")
    with client.session_transaction() as sess:
        secret = sess[SESSION_KEY]
    forged = URLSafeTimedSerializer("another key", salt=SALT).dumps(secret)
    assert client.post("/form", headers={"X-CSRF-Token": forged}).status_code == 400


class _PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 10_000


def _old_token(secret: str) -> str:
    return t.cast(str, URLSafeTimedSerializer(TESTING_SECRET_KEY, salt=SALT, signer=_PastSigner).dumps(secret))


def test_an_expired_token_is_refused(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms"], {"FORMS_CSRF_TIME_LIMIT": 3600}))
    client = app.test_client()
    client.get("/token")
    with client.session_transaction() as sess:
        secret = sess[SESSION_KEY]
    old = _old_token(secret)
    response = client.post("/form", headers={"X-CSRF-Token": old, "Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["reason"] == "expired"
    assert "expired" in response.get_json()["message"]


def test_no_time_limit_accepts_old_tokens(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms"], {"FORMS_CSRF_TIME_LIMIT": None}))
    client = app.test_client()
    client.get("/token")
    with client.session_transaction() as sess:
        secret = sess[SESSION_KEY]
    old = _old_token(secret)
    assert client.post("/form", headers={"X-CSRF-Token": old}).status_code == 200


def test_workers_with_the_same_secret_key_accept_each_others_tokens(make_app: MakeApp) -> None:
    # Two apps stand for two stateless workers on different hosts: the session cookie carries everything.
    first = add_routes(make_app(["forms"]))
    second = add_routes(make_app(["forms"]))
    browser = first.test_client()
    token = page_token(browser, "/form")
    cookie = browser.get_cookie("session")
    assert cookie is not None
    other = second.test_client()
    other.set_cookie("session", cookie.value)
    assert other.post("/form", data={"csrf_token": token}).status_code == 200


def test_apps_with_different_keys_do_not_accept_each_others_tokens(make_app: MakeApp) -> None:
    first = add_routes(make_app(["forms"], {"SECRET_KEY": "a" * 40}))
    second = add_routes(make_app(["forms"], {"SECRET_KEY": "b" * 40}))
    browser = first.test_client()
    token = page_token(browser, "/form")
    other = second.test_client()
    other.get("/form")
    assert other.post("/form", data={"csrf_token": token}).status_code == 400


def test_tokens_survive_a_secret_key_rotation(make_app: MakeApp) -> None:
    old = add_routes(make_app(["forms"], {"SECRET_KEY": "old" * 20}))
    new = add_routes(make_app(["forms"], {"SECRET_KEY": "new" * 20, "SECRET_KEY_FALLBACKS": ["old" * 20]}))
    browser = old.test_client()
    token = page_token(browser, "/form")
    cookie = browser.get_cookie("session")
    assert cookie is not None
    rotated = new.test_client()
    rotated.set_cookie("session", cookie.value)
    assert rotated.post("/form", data={"csrf_token": token}).status_code == 200


def test_a_key_changed_on_the_running_app_is_used_at_once(make_app: MakeApp) -> None:
    # The token serializer is kept per app while the keys stay the same: a new key must not be missed.
    app = add_routes(make_app(["forms"], {"SECRET_KEY": "old" * 20}))
    client = app.test_client()
    token = page_token(client, "/form")
    assert client.post("/form", data={"csrf_token": token}).status_code == 200
    app.config["SECRET_KEY"] = "new" * 20
    assert client.post("/form", data={"csrf_token": token}).status_code == 400
    app.config["SECRET_KEY_FALLBACKS"] = ["old" * 20]
    assert client.post("/form", data={"csrf_token": token}).status_code == 200


def test_tokens_are_itsdangerous_own(app: Flask) -> None:
    client = app.test_client()
    token = page_token(client, "/form")
    with client.session_transaction() as sess:
        secret = sess[SESSION_KEY]
    assert URLSafeTimedSerializer(TESTING_SECRET_KEY, salt=SALT).loads(token) == secret
    made_by_itsdangerous = URLSafeTimedSerializer(TESTING_SECRET_KEY, salt=SALT).dumps(secret)
    assert client.post("/form", data={"csrf_token": made_by_itsdangerous}).status_code == 200


def test_reset_invalidates_earlier_tokens(app: Flask) -> None:
    @app.post("/login")
    def login() -> str:
        erlen_forms.reset_csrf_secret()
        return "logged in"

    client = app.test_client()
    token = page_token(client, "/form")
    assert client.post("/login", data={"csrf_token": token}).status_code == 200
    assert client.post("/form", data={"csrf_token": token}).status_code == 400
    fresh = page_token(client, "/form")
    assert client.post("/form", data={"csrf_token": fresh}).status_code == 200


def test_reset_stores_the_new_secret_so_the_next_page_leaves_the_session_alone(app: Flask) -> None:
    """The new secret goes out with the reset's own response: the next page signs its token with it and sets no
    cookie (when reset dropped the secret, that page made one, and sent the whole session cookie again)."""

    @app.post("/login")
    def login() -> str:
        erlen_forms.reset_csrf_secret()
        return "logged in"

    client = app.test_client()
    token = page_token(client, "/form")
    with client.session_transaction() as sess:
        before = sess[SESSION_KEY]
    assert client.post("/login", data={"csrf_token": token}).status_code == 200
    with client.session_transaction() as sess:
        after = sess.get(SESSION_KEY)
    assert isinstance(after, str) and len(after) == 43 and after != before
    response = client.get("/form")
    assert "Set-Cookie" not in response.headers
    fresh = token_in(response.get_data(as_text=True))
    assert URLSafeTimedSerializer(TESTING_SECRET_KEY, salt=SALT).loads(fresh) == after
    assert client.post("/form", data={"csrf_token": fresh}).status_code == 200


def test_unknown_routes_and_methods_keep_their_status(client: t.Any) -> None:
    assert client.post("/nowhere").status_code == 404
    assert client.post("/token").status_code == 405


def test_disabled_csrf_lets_everything_through(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms"], {"FORMS_CSRF_ENABLED": False}))
    assert app.test_client().post("/form").status_code == 200


def test_the_token_is_kept_in_the_session(client: t.Any) -> None:
    client.get("/form")
    with client.session_transaction() as sess:
        assert isinstance(sess[SESSION_KEY], str)
        assert len(sess[SESSION_KEY]) == 43


def test_the_session_cookie_and_the_token_holding_the_secret_are_not_compressed(app: Flask) -> None:
    """Flask's serializers compress a payload that zlib makes shorter (its text then starts with "."): with the
    secret in hexadecimal, the session cookie and every token were, and each request inflated them again."""

    @app.post("/login")
    def login() -> str:
        session["_user_id"] = "a-log-in-session-key-of-43-characters-in-b64"
        erlen_forms.reset_csrf_secret()
        return "logged in"

    client = app.test_client()
    token = page_token(client, "/form")
    assert client.post("/login", data={"csrf_token": token}).status_code == 200
    cookie = client.get_cookie("session")
    assert cookie is not None and not cookie.value.startswith(".")
    token = page_token(client, "/form")
    assert not token.startswith(".")
    assert client.post("/form", data={"csrf_token": token}).status_code == 200


def test_views_can_be_exempted_with_a_reason(app: Flask) -> None:
    @app.post("/api/ping")
    @erlen_forms.csrf_exempt(reason="authenticated by API token")
    def ping() -> str:
        return "pong"

    client = app.test_client()
    assert client.post("/api/ping").data == b"pong"
    assert client.post("/form").status_code == 400
    assert [(e.endpoint, e.reason, e.source) for e in erlen_forms.exemptions(app)] == [
        ("ping", "authenticated by API token", "view")
    ]


def test_a_view_can_be_exempted_for_some_requests_only(app: Flask) -> None:
    from flask import request

    from erlen_forms.testing import assert_csrf_protected

    def has_bearer() -> bool:
        return request.headers.get("Authorization", "").startswith("Bearer ")

    @app.post("/api/items")
    @erlen_forms.csrf_exempt(reason="Bearer requests are authenticated by the token only", when=has_bearer)
    def items() -> str:
        return "made"

    client = app.test_client()
    csrf_token_for(client)  # a session with a secret, as a victim's browser has
    assert client.post("/api/items", headers={"Authorization": "Bearer abc"}).data == b"made"
    refused = client.post("/api/items", headers={"Accept": "application/json"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf"
    assert client.post("/api/items", headers={"Authorization": "Basic abc"}).status_code == 400
    [exemption] = erlen_forms.exemptions(app)
    assert (exemption.endpoint, exemption.source, exemption.when) == ("items", "view", has_bearer)
    # The walk sends no credential: the view must refuse it, and does.
    assert any(result.endpoint == "items" and result.refused for result in assert_csrf_protected(app))
    listed = app.test_cli_runner().invoke(args=["forms", "exempt"]).output
    assert "items  [view, some requests only]  Bearer requests are authenticated by the token only" in listed


def _checking_view(app: Flask, **options: t.Any) -> None:
    """An exempt view that runs erlen_forms.check_csrf itself and answers its error as JSON."""

    @app.route("/api/checked", methods=["GET", "POST"])
    @erlen_forms.csrf_exempt(reason="checks the token itself, answering its own errors")
    def checked() -> t.Any:
        try:
            erlen_forms.check_csrf(**options)
        except erlen_forms.CSRFError as exc:
            return {"refused": exc.code}, 403
        return {"refused": None}


def test_an_exempt_view_checks_the_token_itself(app: Flask) -> None:
    _checking_view(app)
    client = app.test_client()
    assert client.post("/api/checked").get_json() == {"refused": "missing"}
    token = csrf_token_for(client)
    assert client.post("/api/checked", headers={"X-CSRF-Token": token}).get_json() == {"refused": None}
    assert client.post("/api/checked", data={"csrf_token": token}).get_json() == {"refused": None}
    assert client.post("/api/checked", headers={"X-CSRF-Token": token + "x"}).get_json() == {"refused": "invalid"}
    # Safe methods too: which requests to check is the caller's choice.
    assert client.get("/api/checked").get_json() == {"refused": "missing"}
    assert client.get("/api/checked", headers={"X-CSRF-Token": token}).get_json() == {"refused": None}
    other = app.test_client()
    csrf_token_for(other)
    assert other.post("/api/checked", headers={"X-CSRF-Token": token}).get_json() == {"refused": "invalid"}


def test_check_csrf_can_take_the_token_from_headers_only(app: Flask) -> None:
    _checking_view(app, form_field=False)
    client = app.test_client()
    token = csrf_token_for(client)
    assert client.post("/api/checked", data={"csrf_token": token}).get_json() == {"refused": "missing"}
    assert client.post("/api/checked", headers={"X-CSRFToken": token}).get_json() == {"refused": None}


def test_check_csrf_checks_the_origin_on_https(app: Flask) -> None:
    _checking_view(app)
    client = app.test_client()
    token = csrf_token_for(client)
    answer = client.post(
        "/api/checked",
        base_url="https://localhost",
        headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert answer.get_json() == {"refused": "origin"}


def test_check_csrf_checks_nothing_when_csrf_is_off(make_app: MakeApp) -> None:
    app = make_app(["forms"], {"FORMS_CSRF_ENABLED": False})
    _checking_view(app)
    assert app.test_client().post("/api/checked").get_json() == {"refused": None}


def test_check_csrf_needs_a_request(app: Flask) -> None:
    with app.app_context(), pytest.raises(RuntimeError, match="call it in a request"):
        erlen_forms.check_csrf()


def test_a_conditional_exemption_needs_a_function() -> None:
    with pytest.raises(ValueError, match="function of no arguments"):
        erlen_forms.csrf_exempt(reason="a reason", when=True)  # type: ignore[arg-type]


def test_blueprints_can_be_exempted_with_a_reason(app: Flask) -> None:
    api = Blueprint("api", __name__)
    nested = Blueprint("v2", __name__)

    @api.post("/ping")
    def ping() -> str:
        return "pong"

    @nested.post("/ping")
    def ping2() -> str:
        return "pong2"

    api.register_blueprint(nested, url_prefix="/v2")
    erlen_forms.csrf_exempt_blueprint(api, reason="authenticated by API token")
    app.register_blueprint(api, url_prefix="/api")
    client = app.test_client()
    assert client.post("/api/ping").data == b"pong"
    assert client.post("/api/v2/ping").data == b"pong2"
    assert {e.endpoint: e.source for e in erlen_forms.exemptions(app)} == {
        "api.ping": "blueprint api",
        "api.v2.ping2": "blueprint api",
    }


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_exemption_needs_a_reason(reason: str) -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        erlen_forms.csrf_exempt(reason=reason)
    with pytest.raises(ValueError, match="needs a reason"):
        erlen_forms.csrf_exempt_blueprint(Blueprint("b", __name__), reason=reason)


def test_a_missing_secret_key_is_a_clear_refusal(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms"], {"SECRET_KEY": None}))
    response = app.test_client().post("/form", headers={"X-CSRF-Token": "x", "Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["reason"] == "no-secret-key"
    assert "SECRET_KEY" in response.get_json()["message"]


def test_csrf_token_without_secret_key_raises_a_clear_error(make_app: MakeApp) -> None:
    app = make_app(["forms"], {"SECRET_KEY": None})
    with app.test_request_context(), pytest.raises(RuntimeError, match="needs the app's SECRET_KEY"):
        erlen_forms.csrf_token()


def test_https_requires_the_same_origin(client: t.Any) -> None:
    token = page_token(client, "/form")
    base = "https://localhost"
    ok = client.post("/form", base_url=base, data={"csrf_token": token}, headers={"Origin": base})
    assert ok.status_code == 200
    ok = client.post("/form", base_url=base, data={"csrf_token": token}, headers={"Referer": base + "/form"})
    assert ok.status_code == 200
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}, {}):
        response = client.post("/form", base_url=base, data={"csrf_token": token}, headers=headers)
        assert response.status_code == 400, headers


def test_trusted_origins_are_accepted(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms"], {"FORMS_CSRF_TRUSTED_ORIGINS": ["https://app.example"]}))
    client = app.test_client()
    token = page_token(client, "/form")
    response = client.post(
        "/form", base_url="https://localhost", data={"csrf_token": token}, headers={"Origin": "https://app.example"}
    )
    assert response.status_code == 200


def test_the_origin_check_can_be_turned_off(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms"], {"FORMS_CSRF_SSL_STRICT": False}))
    client = app.test_client()
    token = page_token(client, "/form")
    assert client.post("/form", base_url="https://localhost", data={"csrf_token": token}).status_code == 200


def test_the_error_page_can_be_overridden(make_app: MakeApp, tmp_path: t.Any) -> None:
    (tmp_path / "templates" / "forms").mkdir(parents=True)
    (tmp_path / "templates" / "forms" / "csrf_error.html").write_text("custom refusal: {{ reason }}")
    app = add_routes(make_app(["forms"], template_folder=str(tmp_path / "templates")))
    response = app.test_client().post("/form")
    assert response.status_code == 400
    assert response.data == b"custom refusal: missing"


def test_the_csrf_check_runs_before_other_plugins_hooks(make_app: MakeApp) -> None:
    app = add_routes(make_app(["forms", "forms_answering_plugin"]))
    client = app.test_client()
    assert client.post("/form").status_code == 400
    assert client.get("/form").data == b"answered by the plugin"


def test_hand_written_forms_get_a_token_from_the_template_global(client: t.Any) -> None:
    html = client.get("/form").get_data(as_text=True)
    assert client.post("/form", data={"csrf_token": token_in(html)}).status_code == 200


def test_csrf_token_for_test_clients(client: t.Any) -> None:
    token = csrf_token_for(client)
    assert client.post("/form", data={"csrf_token": token}).status_code == 200
    assert csrf_token_for(client) and client.post("/form", headers={"X-CSRF-Token": token}).status_code == 200


def test_session_secret_is_created_lazily(app: Flask) -> None:
    @app.get("/plain")
    def plain() -> str:
        return str(SESSION_KEY in session)

    client = app.test_client()
    assert client.get("/plain").data == b"False"
    assert client.get_cookie("session") is None


def test_unusual_methods_are_checked_too(app: Flask) -> None:
    # Only GET, HEAD, OPTIONS and TRACE are safe: a route taking PROPFIND or PURGE changes state as POST does.
    @app.route("/webdav", methods=["PROPFIND", "PURGE"])
    def webdav() -> str:
        return "done"

    client = app.test_client()
    for method in ("PROPFIND", "PURGE"):
        response = client.open("/webdav", method=method, headers={"Accept": "application/json"})
        assert response.status_code == 400, method
        assert response.get_json()["reason"] == "missing"
        token = csrf_token_for(client)
        assert client.open("/webdav", method=method, headers={"X-CSRF-Token": token}).data == b"done"


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://[broken"}, {"Referer": "https://[broken/form"}, {"Origin": "http://[::1"}],
)
def test_a_malformed_origin_or_referer_is_refused_not_a_crash(client: t.Any, headers: dict[str, str]) -> None:
    token = page_token(client, "/form")
    response = client.post(
        "/form",
        base_url="https://localhost",
        data={"csrf_token": token},
        headers={**headers, "Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["reason"] == "origin"
