"""The blog plugin: settings, a blueprint, templates, static files, a
command, a system check, and a hook of its own that other plugins implement."""

import click
from flask import Blueprint, current_app, render_template

import erlen
from erlen import checks

PLUGIN = erlen.Plugin(name="blog", description="A small blog.")


@erlen.hookimpl
def erlen_settings():
    return [
        erlen.Setting("TITLE", str, default="Blog", help="The blog's title."),
        erlen.Setting(
            "PAGE_SIZE",
            int,
            default=20,
            help="Posts per page.",
            validate=_positive,
        ),
        erlen.Setting(
            "TAGS", list[str], default=[], help="Tags shown in the menu."
        ),
        erlen.Setting(
            "COMMENTS", bool, default=True, help="Whether readers can comment."
        ),
        erlen.Setting(
            "API_TOKEN",
            str | None,
            default=None,
            secret=True,
            help="The token of the blog's API; the API is off without one.",
        ),
    ]


def _positive(value):
    if value < 1:
        raise ValueError("must be at least 1")


@erlen.hookimpl
def erlen_hookspecs():
    from . import hookspecs

    return [hookspecs]


@erlen.hookimpl
def erlen_init_app(app):
    # Per-app state lives in app.extensions, never in a module global.
    app.extensions["blog"] = {"title": app.config["BLOG_TITLE"]}


bp = Blueprint("blog", __name__)


@bp.route("/")
def index():
    registry = erlen.plugins_of()
    links = [
        link
        for plugin, result in registry.call_each("erlen_blog_sidebar")
        for link in erlen.hook_items(
            plugin.name, "erlen_blog_sidebar", result, "(title, url) pairs"
        )
    ]
    title = erlen.extension_state("blog")["title"]
    return render_template("blog/index.html", title=title, links=links)


@erlen.hookimpl
def erlen_blueprints(app):
    return [(bp, {"url_prefix": "/blog"})]


@erlen.hookimpl
def erlen_template_folders():
    return ["templates"]  # relative to this package


@erlen.hookimpl
def erlen_static_folder():
    return "static"  # served at /static/plugins/blog/<filename>


@erlen.hookimpl
def erlen_template_filters():
    return {"shout": lambda text: f"{text.upper()}!"}


@click.group("blog", help="Manage the blog.")
def blog_group():
    pass


@blog_group.command("info")
def info_command():
    """Show the blog's settings."""
    config = current_app.config
    click.echo(
        f"{config['BLOG_TITLE']}: {config['BLOG_PAGE_SIZE']} posts per page"
    )


@erlen.hookimpl
def erlen_cli_commands(cli):
    return [blog_group]


@erlen.hookimpl
def erlen_checks(app, deploy):
    if deploy and app.config["BLOG_API_TOKEN"] is None:
        problem = "BLOG_API_TOKEN is not set, so the blog's API is off."
        return [
            checks.warning(
                "blog.W001", problem, "Set ERLEN_BLOG_API_TOKEN to turn it on."
            )
        ]
    return []
