"""A tiny local plugin: one setting and one route."""

import erlen

PLUGIN = erlen.Plugin(name="greetings", description="Greets people by name.")


@erlen.hookimpl
def erlen_settings():
    return [erlen.Setting("GREETING", str, default="Hi", help="How to greet.")]


@erlen.hookimpl
def erlen_init_app(app):
    greeting = app.config["GREETINGS_GREETING"]
    app.add_url_rule(
        "/hello/<name>", "hello", lambda name: f"{greeting}, {name}!"
    )
