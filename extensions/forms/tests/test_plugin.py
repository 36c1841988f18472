from __future__ import annotations

import typing as t

import pytest
from flask import Blueprint

import erlen
from erlen.checks import Level, run_checks
from erlen.testing import MakeApp, assert_valid_plugin
from erlen_forms import csrf_exempt_blueprint, hookspecs, plugin
from erlen_forms.state import state_of


def test_the_plugin_is_valid() -> None:
    assert_valid_plugin(plugin, hookspec_modules=[hookspecs], name="forms")


def test_the_plugin_is_found_by_its_entry_point(make_app: MakeApp) -> None:
    app = make_app(["forms"])
    registry = erlen.plugins_of(app)
    assert registry.names() == ["erlen", "forms"]
    assert registry.get("forms").declaration.description  # type: ignore[union-attr]


def test_settings_have_defaults(make_app: MakeApp) -> None:
    config = make_app(["forms"]).config
    assert config["FORMS_CSRF_ENABLED"] is True
    assert config["FORMS_CSRF_TIME_LIMIT"] == 8 * 3600
    assert config["FORMS_CSRF_HEADERS"] == ["X-CSRF-Token", "X-CSRFToken"]
    assert config["FORMS_CSRF_FIELD_NAME"] == "csrf_token"
    assert config["FORMS_MAX_UPLOAD_SIZE"] == 16 * 1024 * 1024
    assert config["FORMS_FK_SELECT_LIMIT"] == 100


def test_settings_come_from_the_environment(make_app: MakeApp) -> None:
    app = make_app(["forms"], environ={"ERLEN_FORMS_CSRF_ENABLED": "no", "ERLEN_FORMS_CSRF_TIME_LIMIT": "60"})
    assert app.config["FORMS_CSRF_ENABLED"] is False
    assert app.config["FORMS_CSRF_TIME_LIMIT"] == 60


@pytest.mark.parametrize(
    ("key", "value"), [("FORMS_CSRF_TIME_LIMIT", -1), ("FORMS_MAX_UPLOAD_SIZE", -5), ("FORMS_CSRF_ENABLED", "maybe")]
)
def test_invalid_settings_are_clear_errors(make_app: MakeApp, key: str, value: object) -> None:
    with pytest.raises(erlen.SettingError, match=key):
        make_app(["forms"], {key: value})


def test_each_app_has_its_own_state(make_app: MakeApp) -> None:
    first, second = make_app(["forms"]), make_app(["forms"])
    assert state_of(first) is not state_of(second)
    with pytest.raises(
        erlen.PluginNotEnabledError, match=r"does not enable the plugin 'forms' \(the erlen-forms"
    ) as caught:
        state_of(make_app([]))
    assert caught.value.plugin == "forms" and "add 'forms' to PLUGINS, which this app takes from" in str(caught.value)


def messages(app: t.Any, deploy: bool = False) -> list[tuple[Level, str, str]]:
    return [(m.level, m.id, m.message) for m in run_checks(app, deploy=deploy) if m.plugin == "forms"]


def test_checks_of_a_good_app(make_app: MakeApp) -> None:
    assert messages(make_app(["forms"])) == []


def test_a_missing_secret_key_is_a_check_error(make_app: MakeApp) -> None:
    found = messages(make_app(["forms"], {"SECRET_KEY": None}))
    assert [(level, id) for level, id, _ in found] == [(Level.ERROR, "forms.E001")]
    assert "SECRET_KEY is not set" in found[0][2]
    assert messages(make_app(["forms"], {"SECRET_KEY": None, "FORMS_CSRF_ENABLED": False}))[0][1] == "forms.W001"


def test_disabled_csrf_is_a_warning_on_deploy(make_app: MakeApp) -> None:
    app = make_app(["forms"], {"FORMS_CSRF_ENABLED": False})
    assert [(level, id) for level, id, _ in messages(app)] == [(Level.INFO, "forms.W001")]
    assert (Level.WARNING, "forms.W001") in [(level, id) for level, id, _ in messages(app, deploy=True)]


def test_no_size_limit_is_a_warning_on_deploy(make_app: MakeApp) -> None:
    app = make_app(["forms"], {"FORMS_MAX_UPLOAD_SIZE": None})
    assert messages(app) == []
    assert [id for _, id, _ in messages(app, deploy=True)] == ["forms.W002"]


def test_exemptions_are_listed_by_checks_and_the_cli(make_app: MakeApp) -> None:
    app = make_app(["forms", "forms_sample_plugin"])
    found = messages(app)
    assert [(level, id) for level, id, _ in found] == [(Level.INFO, "forms.I001")] * 3
    assert (
        "Endpoint 'api.create' is exempt from CSRF checks (blueprint api): authenticated by bearer token" in found[0][2]
    )
    result = app.test_cli_runner().invoke(args=["forms", "exempt"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "api.create  [blueprint api]  authenticated by bearer token",
        "hooks.incoming  [plugin sample]  verified by an HMAC signature header",
        "webhook  [view]  signed by the payment provider",
    ]


def test_the_cli_without_exemptions(make_app: MakeApp) -> None:
    result = make_app(["forms"]).test_cli_runner().invoke(args=["forms", "exempt"])
    assert result.output == "No endpoint is exempt from CSRF checks.\n"


def test_hook_exemptions_need_a_reason(make_app: MakeApp, tmp_path: t.Any) -> None:
    from forms_helpers import write_plugin

    write_plugin(
        tmp_path,
        "forms_reasonless",
        """
        import erlen

        @erlen.hookimpl
        def erlen_forms_csrf_exempt():
            return {"api": ""}
        """,
    )
    with pytest.raises(erlen.PluginError, match="must give a reason for exempting 'api'"):
        make_app(["forms", "forms_reasonless"])


def test_hook_exemptions_must_be_a_mapping(make_app: MakeApp, tmp_path: t.Any) -> None:
    # A list used to fail with AttributeError inside erlen_init_app, blaming the forms plugin.
    from forms_helpers import write_plugin

    write_plugin(
        tmp_path,
        "forms_listing",
        """
        import erlen

        @erlen.hookimpl
        def erlen_forms_csrf_exempt():
            return ["api"]
        """,
    )
    with pytest.raises(erlen.PluginError, match="erlen_forms_csrf_exempt returned list") as info:
        make_app(["forms", "forms_listing"])
    assert info.value.plugin == "forms_listing"


def test_a_blueprint_exempt_in_one_app_is_the_same_blueprint_in_another(make_app: MakeApp) -> None:
    bp = csrf_exempt_blueprint(Blueprint("shared", __name__), reason="token")

    @bp.post("/x")
    def x() -> str:
        return "x"

    for app in (make_app(["forms"]), make_app(["forms"])):
        app.register_blueprint(bp)
        assert app.test_client().post("/x").status_code == 200


def test_a_public_foreign_key_search_is_a_warning_on_deploy(make_app: MakeApp) -> None:
    app = make_app(["forms"], {"FORMS_FK_SEARCH_PUBLIC": True})
    assert messages(app) == []
    assert [id for _, id, _ in messages(app, deploy=True)] == ["forms.W003"]


def test_hook_exemptions_of_unknown_names_are_check_warnings(make_app: MakeApp, tmp_path: t.Any) -> None:
    # A misspelt name exempts nothing (fails safe), so the author's API keeps refusing tokenless requests: say so.
    from forms_helpers import write_plugin

    write_plugin(
        tmp_path,
        "forms_misspelt_exemption",
        """
        import erlen

        PLUGIN = erlen.Plugin(name="misspelt", requires=["sample"])

        @erlen.hookimpl(optionalhook=True)
        def erlen_forms_csrf_exempt():
            return {"hooks.incomming": "signed", "apii": "bearer token", "pages": "a whole blueprint", "zzz": "no"}
        """,
    )
    app = make_app(["forms", "forms_sample_plugin", "forms_misspelt_exemption"])
    found = [m for m in run_checks(app) if m.id == "forms.W004"]
    assert [m.level for m in found] == [Level.WARNING] * 3
    unknown = "from CSRF checks through erlen_forms_csrf_exempt, but the app has no endpoint or blueprint of that name"
    assert [m.message.split(":")[0] for m in found] == [
        f"Plugin 'misspelt' exempts {name!r} {unknown}" for name in ("apii", "hooks.incomming", "zzz")
    ]
    assert found[0].hint.startswith("Did you mean 'api'? ")
    assert found[1].hint.startswith("Did you mean 'hooks.incoming'? ")
    assert found[2].hint == "Return an endpoint name (`erlen routes` lists them) or a blueprint name from the hook."
    # Names that exist (the blueprint "pages", the sample plugin's endpoint "hooks.incoming") are no warning, and
    # the misspelt ones exempt nothing.
    client = app.test_client()
    assert client.post("/hooks/incoming").status_code == 200
    assert client.post("/hooks/other").status_code == 400
