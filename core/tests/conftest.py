from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest


class PluginFactory:
    """Writes plugin modules and installed distributions into a folder on ``sys.path``.

    Distributions are real ``.dist-info`` folders with ``entry_points.txt``, the
    layout pip installs, so discovery goes through ``importlib.metadata``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def module(self, name: str, source: str = "") -> str:
        """Write the module ``name`` (dotted names make packages) and return its name."""
        parts = name.split(".")
        folder = self.root
        for package in parts[:-1]:
            folder = folder / package
            folder.mkdir(exist_ok=True)
            (folder / "__init__.py").touch()
        (folder / f"{parts[-1]}.py").write_text(textwrap.dedent(source))
        self.modules.append(name)
        return name

    def distribution(
        self,
        name: str,
        version: str = "1.0",
        *,
        plugins: Mapping[str, str] | None = None,
    ) -> None:
        """Install a distribution that announces ``plugins`` (entry-point name to value)."""
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = ["[erlen.plugins]"] + [f"{key} = {value}" for key, value in (plugins or {}).items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")

    def cleanup(self) -> None:
        for name in list(sys.modules):
            if any(
                name == m or name.startswith(m.split(".")[0] + ".") or name == m.split(".")[0] for m in self.modules
            ):
                del sys.modules[name]


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginFactory]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    factory = PluginFactory(root)
    yield factory
    factory.cleanup()


@pytest.fixture
def noop_plugin(plugins: PluginFactory) -> Callable[..., str]:
    """Write a minimal plugin module declaring ``name``, ``requires``, ``integrates_with`` and ``title`` (when
    given); return its dotted path."""
    counter = iter(range(1_000_000))

    def make(
        name: str,
        *,
        requires: tuple[str, ...] = (),
        integrates_with: tuple[str, ...] = (),
        title: str | None = None,
        body: str = "",
    ) -> str:
        module = f"plug_{name.replace('-', '_')}_{next(counter)}"
        header = (
            "import erlen\n"
            f"PLUGIN = erlen.Plugin(name={name!r}, requires={requires!r}, integrates_with={integrates_with!r}, "
            f"title={title!r})\n"
        )
        plugins.module(module, header + textwrap.dedent(body))
        return module

    return make
