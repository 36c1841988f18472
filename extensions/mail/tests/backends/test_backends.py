from __future__ import annotations

import typing as t
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from flask import Flask

import erlen
from erlen_mail import Message, send, state_of
from erlen_mail.testing import outbox_of

SENDER = "Erlen <noreply@example.com>"


def test_default_backend_in_testing_is_memory(app: Flask) -> None:
    assert state_of(app).backend_name == "memory"


def test_default_backend_in_debug_is_console(make_app: t.Any) -> None:
    assert state_of(make_app(["mail"], {"DEBUG": True})).backend_name == "console"


def test_default_backend_in_production_is_smtp(make_app: t.Any) -> None:
    assert state_of(make_app(["mail"], {"TESTING": False})).backend_name == "smtp"


def test_backend_from_environment(make_app: t.Any) -> None:
    app = make_app(["mail"], environ={"ERLEN_MAIL_BACKEND": "null"})
    assert state_of(app).backend_name == "null"


def test_unknown_backend_is_a_clear_error(make_app: t.Any) -> None:
    with pytest.raises(erlen.ConfigError, match=r"'carrier-pigeon', which is not a known mail backend.*console"):
        make_app(["mail"], {"MAIL_BACKEND": "carrier-pigeon"})


def test_invalid_settings_are_refused(make_app: t.Any) -> None:
    with pytest.raises(erlen.SettingError, match="MAIL_SMTP_TIMEOUT"):
        make_app(["mail"], {"MAIL_SMTP_TIMEOUT": 0})
    with pytest.raises(erlen.SettingError, match="MAIL_SMTP_SECURITY"):
        make_app(["mail"], {"MAIL_SMTP_SECURITY": "tls"})


@pytest.mark.parametrize("sender", ["noreply", "noreply@example.com, admin@example.com", "Example noreply@example.com"])
def test_a_default_sender_that_is_not_one_address_is_refused_at_start_up(make_app: t.Any, sender: str) -> None:
    # Not at the first send, with an error that does not name the setting.
    with pytest.raises(erlen.SettingError, match=r"MAIL_DEFAULT_SENDER .* must be one valid email address"):
        make_app(["mail"], {"MAIL_DEFAULT_SENDER": sender})


@pytest.mark.parametrize("port", [0, -25, 70000])
def test_an_smtp_port_out_of_range_is_refused_at_start_up(make_app: t.Any, port: int) -> None:
    with pytest.raises(erlen.SettingError, match=r"MAIL_SMTP_PORT .* must be a TCP port from 1 to 65535"):
        make_app(["mail"], {"MAIL_SMTP_PORT": port})


def test_mail_not_enabled(make_app: t.Any) -> None:
    app = make_app([])
    with (
        app.app_context(),
        pytest.raises(erlen.PluginNotEnabledError, match=r"plugin 'mail' .*: add 'mail' to PLUGINS,"),
    ):
        send(Message(to="a@example.com"))


def test_memory_backend_and_outbox_fixture(app: Flask, outbox: list[Message]) -> None:
    with app.app_context():
        result = send(Message("Hi", to="a@example.com", body="x"))
    assert result.sent
    assert outbox == [result.message]
    assert outbox[0].sender == SENDER


def test_outbox_of_switches_any_app_to_memory(make_app: t.Any) -> None:
    app = make_app(["mail"], {"MAIL_BACKEND": "null", "MAIL_DEFAULT_SENDER": SENDER})
    outbox = outbox_of(app)
    send(Message("Hi", to="a@example.com"), app=app)
    assert [m.subject for m in outbox] == ["Hi"]


def test_apps_are_independent(make_app: t.Any) -> None:
    first = make_app(["mail"], {"MAIL_DEFAULT_SENDER": "one@example.com"})
    second = make_app(["mail"], {"MAIL_DEFAULT_SENDER": "two@example.com"})
    first_box, second_box = outbox_of(first), outbox_of(second)
    send(Message("1", to="a@example.com"), app=first)
    with second.app_context():
        send(Message("2", to="a@example.com"))
    assert [(m.subject, m.sender) for m in first_box] == [("1", "one@example.com")]
    assert [(m.subject, m.sender) for m in second_box] == [("2", "two@example.com")]


def test_console_backend_prints_the_message(make_app: t.Any, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(
        ["mail"],
        {
            "MAIL_BACKEND": "console",
            "MAIL_DEFAULT_SENDER": SENDER,
            "MAIL_SMTP_USERNAME": "user",
            "MAIL_SMTP_PASSWORD": "hunter2-very-secret",
        },
    )
    send(Message("Console test", to="a@example.com", bcc="hidden@example.com", body="Body text"), app=app)
    out = capsys.readouterr().out
    assert "Subject: Console test" in out
    assert "Body text" in out
    assert "(bcc: hidden@example.com)" in out
    assert "hunter2" not in out


def test_console_backend_to_stderr(make_app: t.Any, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(["mail"], {"MAIL_BACKEND": "console", "MAIL_CONSOLE_STREAM": "stderr"})
    send(Message("To stderr", to="a@example.com", sender="me@example.com"), app=app)
    captured = capsys.readouterr()
    assert "Subject: To stderr" in captured.err
    assert captured.out == ""


def test_file_backend_writes_eml_files(make_app: t.Any, tmp_path: Path) -> None:
    folder = tmp_path / "sent"
    app = make_app(["mail"], {"MAIL_BACKEND": "file", "MAIL_FILE_PATH": str(folder), "MAIL_DEFAULT_SENDER": SENDER})
    send(Message("One", to="a@example.com", body="first"), app=app)
    send(Message("Two", to="b@example.com", html="<p>second</p>"), app=app)
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2
    assert not list(folder.glob(".*"))
    subjects = {message_from_bytes(f.read_bytes(), policy=policy.default)["Subject"] for f in files}
    assert subjects == {"One", "Two"}


def test_file_backend_defaults_to_the_instance_folder(make_app: t.Any) -> None:
    app = make_app(["mail"], {"MAIL_BACKEND": "file", "MAIL_DEFAULT_SENDER": SENDER})
    send(Message("One", to="a@example.com"), app=app)
    assert len(list((Path(app.instance_path) / "mail").glob("*.eml"))) == 1


def test_null_backend_discards(make_app: t.Any) -> None:
    app = make_app(["mail"], {"MAIL_BACKEND": "null", "MAIL_DEFAULT_SENDER": SENDER})
    assert send(Message("x", to="a@example.com"), app=app).sent


def test_plugin_backend(make_app: t.Any) -> None:
    app = make_app(["mail", "hooktest_plugin"], {"MAIL_BACKEND": "recording", "MAIL_DEFAULT_SENDER": SENDER})
    with app.app_context():
        send(Message("via plugin", to="a@example.com"))
        assert ("delivered", "via plugin") in app.extensions["hooktest"]
    assert "recording" in state_of(app).backends


def test_plugin_backend_name_clash(plugins_dir: Path, make_app: t.Any) -> None:
    (plugins_dir / "clash_plugin.py").write_text(
        "import erlen\nfrom erlen_mail import NullBackend\n"
        "PLUGIN = erlen.Plugin(name='clash', requires=['mail'])\n"
        "@erlen.hookimpl\ndef erlen_mail_backends():\n    return {'smtp': NullBackend}\n"
    )
    with pytest.raises(erlen.PluginError, match="both provide the mail backend 'smtp'"):
        make_app(["mail", "clash_plugin"])


def test_plugin_backend_must_be_a_backend(plugins_dir: Path, make_app: t.Any) -> None:
    (plugins_dir / "bad_backend_plugin.py").write_text(
        "import erlen\nPLUGIN = erlen.Plugin(name='badbackend', requires=['mail'])\n"
        "@erlen.hookimpl\ndef erlen_mail_backends():\n    return {'x': object}\n"
    )
    with pytest.raises(erlen.PluginError, match=r"return subclasses of erlen_mail\.Backend"):
        make_app(["mail", "bad_backend_plugin"])


def test_plugin_backends_returned_as_a_list_name_the_plugin(plugins_dir: Path, make_app: t.Any) -> None:
    (plugins_dir / "listed_backends_plugin.py").write_text(
        "import erlen\nfrom erlen_mail import NullBackend\n"
        "PLUGIN = erlen.Plugin(name='listed', requires=['mail'])\n"
        "@erlen.hookimpl\ndef erlen_mail_backends():\n    return [NullBackend]\n"
    )
    with pytest.raises(erlen.PluginError) as caught:
        make_app(["mail", "listed_backends_plugin"])
    assert caught.value.plugin == "listed"
    assert str(caught.value) == (
        "Plugin 'listed': erlen_mail_backends returned list; return a dict of backend names to Backend subclasses."
    )


def test_plugin_is_valid() -> None:
    import erlen_mail.plugin
    from erlen.testing import assert_valid_plugin

    assert_valid_plugin(erlen_mail.plugin)
