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


def test_stopping_the_smtp_server_while_a_client_keeps_connecting_leaves_no_socket_open() -> None:
    """A worker retrying in a loop connects while the server stops: every connection is closed, none left
    to the garbage collector (a ResourceWarning, an error under ``-W error``, in whichever test runs next)."""
    import gc
    import socket
    import sys
    import threading
    import time

    from erlen_mail.testing import SMTPTestServer

    unraisable: list[str] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda raised: unraisable.append(repr(raised.exc_value))
    try:
        for _ in range(10):
            server = SMTPTestServer()
            server.start()
            stopping = threading.Event()

            def connect_again_and_again(port: int = server.port, stopping: threading.Event = stopping) -> None:
                deadline = time.monotonic() + 5
                while not stopping.is_set() and time.monotonic() < deadline:
                    try:
                        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                            connection.recv(100)  # the greeting, or nothing from a closing server
                    except OSError:
                        pass

            clients = [threading.Thread(target=connect_again_and_again) for _ in range(4)]
            for client in clients:
                client.start()
            time.sleep(0.05)
            server.stop()
            stopping.set()
            for client in clients:
                client.join(timeout=10)
            gc.collect()
    finally:
        sys.unraisablehook = previous_hook
    assert not [found for found in unraisable if "ResourceWarning" in found or "unclosed" in found], unraisable
