from __future__ import annotations

import pytest

import erlen
from erlen.testing import MakeApp
from erlen_auth import state_of


def test_state_of_an_app_without_auth_names_the_plugin_to_enable(make_app: MakeApp) -> None:
    with pytest.raises(erlen.PluginNotEnabledError) as caught:
        state_of(make_app(["db"], {"DB_URL": "sqlite://"}))
    assert caught.value.plugin == "auth"
    assert "does not enable the plugin 'auth' (the erlen-auth distribution): add 'auth' to PLUGINS," in str(
        caught.value
    )
