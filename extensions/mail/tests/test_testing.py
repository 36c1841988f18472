"""The testing kit, as an app's own test suite uses it."""

from __future__ import annotations

import pytest


def test_outbox_and_smtp_server_fixtures_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def erlen_plugins():
            return ["mail"]

        @pytest.fixture
        def erlen_config():
            return {"MAIL_DEFAULT_SENDER": "app@example.com"}
        """
    )
    pytester.makepyfile(
        """
        from erlen_mail import Message, send, send_template

        def test_outbox(app, outbox):
            with app.app_context():
                send(Message("Welcome", to="ada@example.com", body="hi"))
            assert [m.subject for m in outbox] == ["Welcome"]

        def test_smtp_server(make_app, smtp_server):
            app = make_app(["mail"], {"MAIL_DEFAULT_SENDER": "app@example.com", **smtp_server.config()})
            send(Message("Real", to="ada@example.com"), app=app)
            assert smtp_server.messages[0].email["Subject"] == "Real"
            assert smtp_server.running
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
