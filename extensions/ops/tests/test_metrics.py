"""Prometheus metrics in one process: requests, hooks, plugins' own metrics, who may read them."""

from __future__ import annotations

import typing as t

import pytest
from prometheus_client.parser import text_string_to_metric_families

from erlen.testing import MakeApp

PLUGINS = ["ops_sample_plugin", "ops"]
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def scrape(client: t.Any, **options: t.Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", environ_base=LOCAL, **options)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.data)


def test_metrics_are_off_by_default(make_app: MakeApp) -> None:
    assert make_app(PLUGINS).test_client().get("/metrics", environ_base=LOCAL).status_code == 404


#: The requests answered: the latency histogram's count (no separate counter, see erlen_ops.metrics.AppMetrics).
COUNT = "erlen_http_request_duration_seconds_count"


def test_requests_are_counted_by_endpoint_method_and_status(make_app: MakeApp) -> None:
    app = make_app(PLUGINS, {"OPS_METRICS": True, "PROPAGATE_EXCEPTIONS": False})
    client = app.test_client()
    for _ in range(3):
        assert client.get("/hello").status_code == 200
    client.post("/hello")
    client.get("/nowhere/1")
    client.get("/nowhere/2")
    client.get("/boom")
    client.get("/healthz")  # not counted: probes would drown the app's own traffic
    found = scrape(client)
    assert found[(COUNT, (("endpoint", "hello"), ("method", "GET"), ("status", "200")))] == 3
    # A method the route does not take matches no endpoint, as an unknown path does.
    assert found[(COUNT, (("endpoint", "<unmatched>"), ("method", "POST"), ("status", "405")))] == 1
    assert found[(COUNT, (("endpoint", "<unmatched>"), ("method", "GET"), ("status", "404")))] == 2
    assert found[(COUNT, (("endpoint", "boom"), ("method", "GET"), ("status", "500")))] == 1
    assert (
        COUNT,
        (("endpoint", "<unmatched>"), ("method", "GET"), ("status", "200")),
    ) not in found
    hooks = {labels for name, labels in found if name == "erlen_hook_duration_seconds_count"}
    assert (("hook", "erlen_ops_metrics"), ("plugin", "sample")) in hooks


IN_FLIGHT = ("erlen_http_requests_in_flight", ())


def test_requests_in_flight(make_app: MakeApp) -> None:
    app = make_app(PLUGINS, {"OPS_METRICS": True})
    client = app.test_client()
    during: list[float] = []

    @app.route("/scraping")
    def scraping() -> str:
        # A scrape while this request is being answered (the scrape itself is not a request of the app's).
        during.append(scrape(app.test_client())[IN_FLIGHT])
        return "scraped"

    assert scrape(client)[IN_FLIGHT] == 0
    assert client.get("/scraping").status_code == 200
    assert during == [1]
    assert scrape(client)[IN_FLIGHT] == 0


def test_plugins_add_metrics_of_their_own(make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    client = make_app(PLUGINS, {"OPS_METRICS": True}).test_client()
    client.get("/hello")
    client.get("/hello")
    found = scrape(client)
    assert found[("erlen_sample_jobs_total", ())] == 2
    assert found[("erlen_sample_queue_depth", ())] == 3
    assert not any(name == "erlen_sample_broken" for name, _ in found)
    assert "Metric erlen_sample_broken of plugin 'sample' could not be read: ZeroDivisionError" in caplog.text


#: A token as long as the setting asks (at least 32 characters).
TOKEN = "s3cret-token-0123456789abcdefghijklmnop"


def test_metrics_only_for_allowed_addresses_or_with_the_token(make_app: MakeApp) -> None:
    config = {"OPS_METRICS": True, "OPS_METRICS_ALLOW": ["10.1.0.0/16"], "OPS_METRICS_TOKEN": TOKEN}
    client = make_app(PLUGINS, config).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer wrong"}).status_code == 403
    allowed = client.get("/metrics", environ_base=outside, headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200
    assert TOKEN.encode() not in allowed.data


def test_the_client_address_is_taken_after_the_trusted_proxies(make_app: MakeApp) -> None:
    client = make_app(PLUGINS, {"OPS_METRICS": True, "TRUSTED_PROXY_HOPS": 1}).test_client()
    proxied = {"REMOTE_ADDR": "127.0.0.1"}
    forwarded = client.get("/metrics", environ_base=proxied, headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 403  # the proxy is local, the client is not


def test_a_bad_network_names_the_setting(make_app: MakeApp) -> None:
    import erlen

    with pytest.raises(erlen.SettingError, match=r"OPS_METRICS_ALLOW.*'localhost', which is not an address"):
        make_app(PLUGINS, {"OPS_METRICS": True, "OPS_METRICS_ALLOW": ["localhost"]})


def test_database_queries_per_request_and_pool_use(make_app: MakeApp, tmp_path: t.Any) -> None:
    erlen_db = pytest.importorskip("erlen_db", reason="the database metrics need erlen-db")
    import sqlalchemy as sa

    app = make_app(["db", *PLUGINS], {"OPS_METRICS": True, "DB_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}"})

    @app.route("/three")
    def three() -> str:
        for _ in range(3):
            erlen_db.session.execute(sa.text("SELECT 1"))
        return "ok"

    client = app.test_client()
    try:
        client.get("/three")
        client.get("/hello")
        found = scrape(client)
        assert found[("erlen_db_queries_per_request_sum", (("endpoint", "three"),))] == 3
        assert found[("erlen_db_queries_per_request_sum", (("endpoint", "hello"),))] == 0
        assert found[("erlen_db_pool_connections_in_use", ())] == 0
        assert found[("erlen_db_pool_checkouts_total", ())] >= 1
    finally:
        erlen_db.database_of(app).dispose()


def test_mail_deliveries_outbox_depth_and_login_throttling(make_app: MakeApp, tmp_path: t.Any) -> None:
    erlen_db = pytest.importorskip("erlen_db", reason="the outbox needs erlen-db")
    erlen_mail = pytest.importorskip("erlen_mail", reason="the mail metrics need erlen-mail")
    pytest.importorskip("erlen_auth", reason="the log-in metrics need erlen-auth")
    from erlen_auth import accounts

    config = {
        "OPS_METRICS": True,
        "DB_URL": f"sqlite:///{tmp_path / 'mail.sqlite3'}",
        "MAIL_BACKEND": "memory",
        "MAIL_DEFAULT_SENDER": "app@example.com",
        "AUTH_THROTTLE_ACCOUNT_LIMIT": 1,
    }
    app = make_app(["db", "mail", "forms", "auth", *PLUGINS], config)
    erlen_db.database_of(app).create_all()
    try:
        with app.app_context():
            erlen_mail.send(erlen_mail.Message("Hi", to=["a@example.com"], body="Hello"))
            erlen_mail.queue(erlen_mail.Message("Later", to=["b@example.com"], body="Hello"))
            erlen_db.session.commit()
        with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.1"}):
            for _ in range(3):
                accounts.authenticate("nobody@example.com", "wrong")
        found = scrape(app.test_client())
        assert found[("erlen_mail_deliveries_total", (("result", "sent"),))] == 1
        assert found[("erlen_mail_outbox_messages", ())] == 1
        assert found[("erlen_mail_outbox_oldest_seconds", ())] >= 0
        assert found[("erlen_auth_login_failures_total", (("reason", "unknown"),))] >= 1
        assert found[("erlen_auth_login_failures_total", (("reason", "throttled"),))] >= 1
    finally:
        erlen_db.database_of(app).dispose()


def test_an_ipv4_client_of_a_dual_stack_server_is_allowed_by_its_ipv4_network(make_app: MakeApp) -> None:
    """A server listening on [::] sees IPv4 clients as ::ffff:a.b.c.d: the allowed IPv4 networks apply to them."""
    config = {"OPS_METRICS": True, "OPS_METRICS_ALLOW": ["127.0.0.1/32", "10.1.0.0/16"]}
    client = make_app(PLUGINS, config).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:203.0.113.9"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 403  # not in the list


def test_the_forwarded_address_is_ignored_without_trusted_proxies(make_app: MakeApp) -> None:
    """Without TRUSTED_PROXY_HOPS a client cannot claim a loopback address in X-Forwarded-For; with one hop,
    only the entry the proxy added counts, not those the client sent before it."""
    client = make_app(PLUGINS, {"OPS_METRICS": True}).test_client()
    spoofed = {"X-Forwarded-For": "127.0.0.1"}
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}, headers=spoofed).status_code == 403
    proxied = make_app(PLUGINS, {"OPS_METRICS": True, "TRUSTED_PROXY_HOPS": 1}).test_client()
    chained = {"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}  # the client's claim, then what the proxy saw
    assert proxied.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers=chained).status_code == 403


def test_a_plugin_gauge_reading_a_bad_value_is_left_out_not_the_scrape(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A scrape-time gauge returning something other than numbers (a string, an object, label keys of the
    wrong shape) is left out and logged, naming it; the other metrics are served (a 500 hid them all)."""
    from erlen_ops import state_of

    app = make_app(PLUGINS, {"OPS_METRICS": True, "PROPAGATE_EXCEPTIONS": False})
    metrics = state_of(app).metrics
    assert metrics is not None
    factory = metrics.factory
    factory.on_scrape("erlen_bad_text", "A string.", lambda: "many")
    factory.on_scrape("erlen_bad_object", "An object.", object)
    factory.on_scrape("erlen_bad_labels", "Too many label values.", lambda: {("a", "b"): 1}, ["queue"])
    factory.on_scrape("erlen_bad_key", "A key that is not a tuple.", lambda: {"ab": 1}, ["queue"])
    factory.on_scrape("erlen_bad_number", "A labelled text.", lambda: {("a",): "x"}, ["queue"])
    factory.on_scrape("erlen_bad_numeral", "A number as text, which float() would read.", lambda: "3")
    factory.on_scrape("erlen_bad_huge", "An int beyond a float's range.", lambda: 10**400)
    factory.on_scrape("erlen_good_labels", "Fine.", lambda: {("mail",): 2, ("jobs",): 5}, ["queue"])
    found = scrape(app.test_client())
    assert found[("erlen_sample_queue_depth", ())] == 3
    assert found[("erlen_good_labels", (("queue", "mail"),))] == 2
    assert not any(name.startswith("erlen_bad_") for name, _ in found)
    for name in ("text", "object", "labels", "key", "number", "numeral", "huge"):
        assert f"Metric erlen_bad_{name} could not be read" in caplog.text


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_multiprocess_folder_that_cannot_hold_the_metrics_stops_the_app(
    make_app: MakeApp, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """PROMETHEUS_MULTIPROC_DIR naming no folder made every request of the app a 500 (its metrics could not
    be written); the app now refuses to start, naming the variable and what to do."""
    import erlen
    from erlen_ops.names import MULTIPROCESS_VARIABLE

    folder = tmp_path / "metrics"
    if kind == "file":
        folder.write_text("")
    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(folder))
    problem = "does not exist" if kind == "missing" else "is not a folder"
    with pytest.raises(erlen.ConfigError, match=rf"PROMETHEUS_MULTIPROC_DIR names '.*metrics', which {problem}: "):
        make_app(PLUGINS, {"OPS_METRICS": True})
    assert make_app(PLUGINS).test_client().get("/hello").status_code == 200  # metrics off: the variable is not read


@pytest.mark.parametrize("token", [f"{TOKEN}\n", f" {TOKEN}", TOKEN.replace("-", " "), TOKEN.replace("e", "é")])
def test_a_token_no_header_can_carry_names_the_setting(make_app: MakeApp, token: str) -> None:
    """A token with a space (a newline read from a secret's file) or a character outside ASCII never matched the
    header's ("Bearer TOKEN", stripped, as bytes): /metrics refused everyone. Refused at startup, the value not
    shown."""
    import erlen

    refused = r"OPS_METRICS_TOKEN.*must be printable ASCII without spaces"
    with pytest.raises(erlen.SettingError, match=refused) as caught:
        make_app(PLUGINS, {"OPS_METRICS": True, "OPS_METRICS_TOKEN": token})
    assert "s3cr" not in str(caught.value)


@pytest.mark.parametrize("token", ["abc", "s3cret-token", TOKEN[:31]])
def test_a_token_short_enough_to_guess_names_the_setting(make_app: MakeApp, token: str) -> None:
    """Any length was taken ('abc'), and the token opens /metrics to every address. Fewer than 32 characters is
    refused at startup, naming the setting and how to make one, the value not shown."""
    import erlen

    refused = (
        rf"OPS_METRICS_TOKEN.*is {len(token)} characters long, too short.*at least 32 characters.*"
        r"secrets\.token_urlsafe\(32\)"
    )
    with pytest.raises(erlen.SettingError, match=refused) as caught:
        make_app(PLUGINS, {"OPS_METRICS": True, "OPS_METRICS_TOKEN": token})
    assert token not in str(caught.value)
    assert make_app(PLUGINS, {"OPS_METRICS": True, "OPS_METRICS_TOKEN": TOKEN[:32]}).config["OPS_METRICS_TOKEN"]


def test_a_multiprocess_folder_removed_while_the_app_runs_fails_no_request(
    make_app: MakeApp, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The folder deleted after startup (a cleaner of /tmp, a stopped unit's RuntimeDirectory): the requests are
    answered, not 500s, the scrape is a 503 saying why, and the operator is told once, naming the variable."""
    import shutil

    from erlen_ops import state_of
    from erlen_ops.names import MULTIPROCESS_VARIABLE

    folder = tmp_path / "metrics"
    folder.mkdir()
    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(folder))
    app = make_app(PLUGINS, {"OPS_METRICS": True})
    shutil.rmtree(folder)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/hello").data == b"Hello, World!"
    metrics = state_of(app).metrics
    assert metrics is not None and metrics.in_flight.requests == []  # none left counted in flight for good
    scraped = client.get("/metrics", environ_base=LOCAL)
    assert scraped.status_code == 503 and MULTIPROCESS_VARIABLE in scraped.text
    failures = [record for record in caplog.records if record.name == "erlen_ops.metrics"]
    assert len(failures) == 1 and MULTIPROCESS_VARIABLE in failures[0].getMessage()
    assert "FileNotFoundError" in failures[0].getMessage()


def test_a_failing_gauges_logged_message_hides_the_password(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A scrape-time gauge's exception was logged as it was, a database URL's password with it."""
    from erlen_ops import state_of

    app = make_app(PLUGINS, {"OPS_METRICS": True})
    metrics = state_of(app).metrics
    assert metrics is not None

    def unreachable() -> float:
        raise ConnectionError("cannot reach postgresql://admin:hunt@er2@db.internal/prod?password=hunter2")

    metrics.factory.on_scrape("erlen_test_unreachable", "Its database is down.", unreachable)
    scrape(app.test_client())
    assert "Metric erlen_test_unreachable could not be read: ConnectionError: cannot reach postgresql://admin:***@" in (
        caplog.text
    )
    assert "er2" not in caplog.text and "hunter2" not in caplog.text


def test_a_gauge_value_that_raises_when_read_is_left_out_not_the_scrape(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A gauge's value that raises something else than TypeError or ValueError when converted (a lazily loaded
    mapping whose result set was closed, a number type whose __float__ fails) made the whole scrape a 500."""
    from collections.abc import Mapping

    from erlen_ops import state_of

    class ClosedRows(Mapping[tuple[str, ...], float]):
        def __getitem__(self, key: tuple[str, ...]) -> float:
            raise LookupError("the result set was closed")

        def __iter__(self) -> t.Iterator[tuple[str, ...]]:
            raise LookupError("the result set was closed")

        def __len__(self) -> int:
            return 1

    class Unconvertible:
        def __float__(self) -> float:
            raise ArithmeticError("no float for this")

    app = make_app(PLUGINS, {"OPS_METRICS": True, "PROPAGATE_EXCEPTIONS": False})
    metrics = state_of(app).metrics
    assert metrics is not None
    metrics.factory.on_scrape("erlen_bad_rows", "Rows gone.", ClosedRows, ["queue"])
    metrics.factory.on_scrape("erlen_bad_float", "No float.", Unconvertible)
    found = scrape(app.test_client())
    assert found[("erlen_sample_queue_depth", ())] == 3
    assert not any(name.startswith("erlen_bad_") for name, _ in found)
    assert "Metric erlen_bad_rows could not be read: LookupError: the result set was closed" in caplog.text
    assert "Metric erlen_bad_float could not be read: ArithmeticError: no float for this" in caplog.text


def test_a_scrape_time_gauge_named_like_another_metric_is_refused_when_made(make_app: MakeApp) -> None:
    """A scrape-time gauge and another metric writing one name were both written into the answer: Prometheus
    refuses an exposition with a name typed twice, so every metric of the app went unscraped, silently. Such a
    gauge is refused when it is made, naming it; one named like a counter without its _total is not (the
    counter's TYPE line names x_total), as erlen-tasks' erlen_tasks_jobs_dead gauge is."""
    from erlen_ops import state_of

    app = make_app(PLUGINS, {"OPS_METRICS": True})
    metrics = state_of(app).metrics
    assert metrics is not None
    factory = metrics.factory
    factory.counter("erlen_test_things", "Things.", ["kind"])  # no sample yet: its names are taken all the same
    factory.histogram("erlen_test_waits", "Waits.")
    for taken in [
        "erlen_http_requests_in_flight",
        "erlen_sample_queue_depth",
        "erlen_test_things_total",
        "erlen_test_waits",
        "erlen_test_waits_count",
    ]:
        with pytest.raises(ValueError, match=f"The gauge '{taken}' read at scrape time is named like a metric"):
            factory.on_scrape(taken, "Taken.", lambda: 1)
    factory.on_scrape("erlen_test_things", "A gauge named like the counter without _total.", lambda: 4)
    body = app.test_client().get("/metrics", environ_base=LOCAL).text
    type_lines = [line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")]
    assert sorted(name for name in set(type_lines) if type_lines.count(name) > 1) == []
    assert "erlen_test_things 4.0" in body.splitlines()


def test_a_metric_made_after_a_scrape_time_gauge_of_its_name_is_refused(make_app: MakeApp) -> None:
    """A plugin whose erlen_ops_metrics runs after another's made a metric writing the name of that plugin's
    scrape-time gauge (a gauge of the same name, a counter x beside the gauge x_total): both were written into the
    answer, and Prometheus refused every metric of the app, silently. The later metric is refused, naming both,
    and left out of the registry."""
    from erlen_ops import state_of

    app = make_app(PLUGINS, {"OPS_METRICS": True})
    metrics = state_of(app).metrics
    assert metrics is not None
    factory = metrics.factory
    factory.on_scrape("erlen_test_backlog", "A backlog.", lambda: 2)
    factory.on_scrape("erlen_test_sent_total", "Sent, read at scrape time.", lambda: 5)
    factory.on_scrape("erlen_test_wait_count", "Waiting, read at scrape time.", lambda: 1)
    with pytest.raises(ValueError, match="The metric 'erlen_test_backlog' would write 'erlen_test_backlog' into"):
        factory.gauge("erlen_test_backlog", "The same name.")
    with pytest.raises(ValueError, match="'erlen_test_sent' would write 'erlen_test_sent_total' into /metrics"):
        factory.counter("erlen_test_sent", "Its sample is the gauge's name.", ["kind"])
    with pytest.raises(ValueError, match="'erlen_test_wait' would write 'erlen_test_wait_count' into /metrics"):
        factory.histogram("erlen_test_wait", "Its sample is the gauge's name.")
    body = app.test_client().get("/metrics", environ_base=LOCAL).text
    type_lines = [line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")]
    assert sorted(name for name in set(type_lines) if type_lines.count(name) > 1) == []
    assert {"erlen_test_backlog 2.0", "erlen_test_sent_total 5.0", "erlen_test_wait_count 1.0"} <= set(
        body.splitlines()
    )


def test_a_worker_making_its_metrics_files_fails_no_scrape(
    make_app: MakeApp, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prometheus-client creates a worker's file empty and sizes it afterwards: a scrape in between (gunicorn
    starting a worker, or replacing a dead one) read the empty file, raised struct.error and answered 500."""
    from erlen_ops import state_of
    from erlen_ops.names import MULTIPROCESS_VARIABLE

    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(tmp_path))
    app = make_app(PLUGINS, {"OPS_METRICS": True})
    metrics = state_of(app).metrics
    assert metrics is not None
    try:
        client = app.test_client()
        assert client.get("/hello").status_code == 200
        (tmp_path / "counter_999999.db").touch()  # another worker, between creating its file and sizing it
        found = scrape(client)
        assert found[IN_FLIGHT] == 0  # read from this process's file (a scrape is not counted)
    finally:
        metrics.in_flight.close()


def test_closing_the_requests_in_flight_lets_a_later_request_open_them_again(
    make_app: MakeApp, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erlen_ops import state_of
    from erlen_ops.names import MULTIPROCESS_VARIABLE

    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(tmp_path))
    app = make_app(PLUGINS, {"OPS_METRICS": True})
    metrics = state_of(app).metrics
    assert metrics is not None
    client = app.test_client()
    try:
        assert client.get("/hello").status_code == 200
        metrics.in_flight.close()
        metrics.in_flight.close()  # twice is harmless
        assert client.get("/hello").status_code == 200  # counted in a file opened again
        assert scrape(client)[IN_FLIGHT] == 0
        assert metrics.in_flight.requests == []
    finally:
        metrics.in_flight.close()
