"""A plugin that mails every new user a welcome message."""

from __future__ import annotations

import erlen

PLUGIN = erlen.Plugin(name="welcome", requires=["mail", "auth"])


@erlen.hookimpl
def erlen_settings():
    return [
        erlen.Setting(
            "SITE_NAME", str, default="our site", help="The site's name in mails."
        )
    ]


@erlen.hookimpl
def erlen_template_folders():
    return ["templates"]  # holds mail/welcome/welcome.subject.txt and .txt


@erlen.hookimpl
def erlen_auth_user_registered(user):
    from flask import current_app

    import erlen_db
    from erlen_mail import deliver_template

    site = current_app.config["WELCOME_SITE_NAME"]
    deliver_template("welcome/welcome", to=user.email, user=user, site=site)
    erlen_db.session.commit()  # queued in the outbox: it leaves once committed
