"""A plugin that extends forms only when the forms plugin is enabled."""

from __future__ import annotations

import erlen

PLUGIN = erlen.Plugin(name="optional")


@erlen.hookimpl(optionalhook=True)
def erlen_forms_extend(form_id: str) -> None:
    return None
