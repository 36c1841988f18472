"""A plugin with a required setting."""

import erlen

PLUGIN = erlen.Plugin(name="mailer")


@erlen.hookimpl
def erlen_settings():
    return [
        erlen.Setting(
            "HOST", str, help="The SMTP server."
        ),  # no default: required
        erlen.Setting("PORT", int, default=25),
    ]
