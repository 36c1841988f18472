"""The pytest plugin ``erlen.testing``, used as plugin authors use it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from erlen.testing import free_port

pytest_plugins = ["pytester"]

EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")


def test_fixtures_in_a_plugin_authors_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        greeter="""
        import click
        import erlen

        PLUGIN = erlen.Plugin(name="greeter")

        @erlen.hookimpl
        def erlen_settings():
            return [erlen.Setting("NAME", str, default="World")]

        @erlen.hookimpl
        def erlen_init_app(app):
            app.add_url_rule("/", "greet", lambda: f"Hello, {app.config['GREETER_NAME']}!")

        @click.command("greet")
        def greet():
            click.echo("hi")

        @erlen.hookimpl
        def erlen_cli_commands():
            return [greet]
        """,
        test_greeter="""
        import pytest
        from erlen.testing import assert_valid_plugin

        @pytest.fixture
        def erlen_plugins():
            return ["greeter"]

        @pytest.fixture
        def erlen_config():
            return {"GREETER_NAME": "Ada"}

        def test_client(client):
            assert client.get("/").data == b"Hello, Ada!"

        def test_cli(cli_runner):
            assert cli_runner.invoke(args=["greet"]).output == "hi\\n"

        def test_make_app(make_app):
            app = make_app(["greeter"], {"GREETER_NAME": "Bob"})
            assert app.testing
            assert app.test_client().get("/").data == b"Hello, Bob!"

        def test_make_app_ignores_the_shell_environment(make_app, monkeypatch):
            monkeypatch.setenv("ERLEN_GREETER_NAME", "Shell")
            assert make_app(["greeter"]).config["GREETER_NAME"] == "World"
            app = make_app(["greeter"], environ={"ERLEN_GREETER_NAME": "Env"})
            assert app.config["GREETER_NAME"] == "Env"

        def test_valid(app):
            import greeter
            assert_valid_plugin(greeter)
        """,
    )
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=5)


def test_service_unavailable_skips_locally_and_fails_when_services_are_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_service="""
        from erlen.testing import service_unavailable

        def test_needs_a_server():
            service_unavailable("Nothing listens on 127.0.0.1:1; start it")
        """
    )
    monkeypatch.delenv("ERLEN_REQUIRE_SERVICES", raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=1)
    monkeypatch.setenv("ERLEN_REQUIRE_SERVICES", "1")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Nothing listens on 127.0.0.1:1; start it (ERLEN_REQUIRE_SERVICES=1*"])


def test_apps_made_by_the_fixtures_are_closed_after_the_test(pytester: pytest.Pytester) -> None:
    closed = pytester.path / "closed.txt"
    pytester.makepyfile(
        pool=f"""
        import erlen

        PLUGIN = erlen.Plugin(name="pool")

        @erlen.hookimpl
        def erlen_app_close(app):
            with open({str(closed)!r}, "a") as log:
                log.write(app.config["POOL_NAME"] + "\\n")
        """,
        test_pool="""
        import pytest

        @pytest.fixture
        def erlen_plugins():
            return ["pool"]

        @pytest.fixture
        def erlen_config():
            return {"POOL_NAME": "fixture"}

        def test_app_and_made_apps(app, make_app):
            make_app(["pool"], {"POOL_NAME": "made"})
        """,
    )
    pytester.syspathinsert()
    assert not closed.exists()
    pytester.runpytest().assert_outcomes(passed=1)
    assert sorted(closed.read_text().split()) == ["fixture", "made"]


@pytest.mark.skipif(not EPHEMERAL_PORTS.exists(), reason="no Linux /proc/sys: the kernel's ephemeral range is unknown")
def test_free_ports_lie_outside_the_kernels_ephemeral_range() -> None:
    """A test server stopped and started again on its port must find it free: the kernel gives the local end of
    outgoing connections ports of its ephemeral range, so a port from there can be taken while the server is
    down (CI's production run once failed so: PostgreSQL's restart on 46217 met "Address already in use")."""
    low, high = (int(part) for part in EPHEMERAL_PORTS.read_text().split())
    ports = {free_port() for _ in range(200)}
    assert not [port for port in ports if low <= port <= high]
    assert len(ports) > 100  # drawn at random: parallel test workers rarely meet on one
    for port in list(ports)[:20]:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
