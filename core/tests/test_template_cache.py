"""Compiled templates kept on disk: loaded by the next process, never across options, never failing a page."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import typing as t
from pathlib import Path

import pytest
from flask import Flask, render_template

import erlen
from erlen.template_cache import FILE_PATTERN, TemplateCache

PAGE = "<p>{{ value }}</p>"
#: Rendered otherwise with trim_blocks and again with lstrip_blocks.
BLOCKS = "{% if shown %}\n  shown\n  {% endif %}\n"


def _app(root: Path, **config: t.Any) -> Flask:
    """An app whose templates are in ``root / "templates"`` and whose cache is ``root / "cache"`` unless set."""
    (root / "templates").mkdir(exist_ok=True)
    if not (root / "templates" / "page.html").exists():
        (root / "templates" / "page.html").write_text(PAGE, encoding="utf-8")
    settings = {"SECRET_KEY": "template-cache-tests-secret-key-0123456789", "TEMPLATE_CACHE_DIR": str(root / "cache")}
    return erlen.create_app(__name__, {**settings, **config}, environ={}, root_path=str(root))


def _render(app: Flask, **context: t.Any) -> str:
    with app.test_request_context():
        return render_template("page.html", **context)


def _compiles(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates ``app``'s environment compiles from now on."""
    compiled: list[str] = []
    environment = app.jinja_env
    compile_source = environment.compile

    def compile(source: str, name: str | None = None, filename: str | None = None, **options: t.Any) -> t.Any:
        compiled.append(str(name))
        return compile_source(source, name, filename, **options)

    monkeypatch.setattr(environment, "compile", compile)
    return compiled


def _cached_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(FILE_PATTERN.replace("%s", "*")))


def test_the_next_app_loads_the_code_the_first_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _app(tmp_path)
    assert isinstance(first.jinja_env.bytecode_cache, TemplateCache)
    first_compiles = _compiles(first, monkeypatch)
    assert _render(first, value="a") == "<p>a</p>"
    assert first_compiles == ["page.html"]
    assert len(_cached_files(tmp_path / "cache")) == 1
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700

    second = _app(tmp_path)
    second_compiles = _compiles(second, monkeypatch)
    assert _render(second, value="b") == "<p>b</p>"
    assert second_compiles == []


def test_an_app_with_other_options_never_runs_the_code_of_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    escaping = _app(tmp_path)
    assert _render(escaping, value="<b>") == "<p>&lt;b&gt;</p>"

    raw = _app(tmp_path)
    raw.jinja_env.autoescape = False
    raw_compiles = _compiles(raw, monkeypatch)
    assert _render(raw, value="<b>") == "<p><b></p>"
    assert raw_compiles == ["page.html"]

    (tmp_path / "templates" / "blocks.html").write_text(BLOCKS, encoding="utf-8")
    with escaping.test_request_context():
        assert render_template("blocks.html", shown=True) == "\n  shown\n  "
    trimmed = _app(tmp_path)
    trimmed.jinja_env.trim_blocks = True
    trimmed_compiles = _compiles(trimmed, monkeypatch)
    with trimmed.test_request_context():
        assert render_template("blocks.html", shown=True) == "  shown\n  "
        trimmed.jinja_env.cache.clear()
        trimmed.jinja_env.lstrip_blocks = True
        assert render_template("blocks.html", shown=True) == "  shown\n"
    assert trimmed_compiles == ["blocks.html", "blocks.html"]
    assert len(_cached_files(tmp_path / "cache")) == 5

    # Each finds its own code again, the escaping one's still escaping.
    again = _app(tmp_path)
    again_compiles = _compiles(again, monkeypatch)
    assert _render(again, value="<b>") == "<p>&lt;b&gt;</p>"
    assert again_compiles == []


def test_an_edited_template_is_compiled_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _render(_app(tmp_path), value="a") == "<p>a</p>"
    (tmp_path / "templates" / "page.html").write_text("<em>{{ value }}</em>", encoding="utf-8")
    edited = _app(tmp_path)
    compiles = _compiles(edited, monkeypatch)
    assert _render(edited, value="a") == "<em>a</em>"
    assert compiles == ["page.html"]


def test_a_damaged_file_is_compiled_again_and_written_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _render(_app(tmp_path), value="a")
    (cached,) = _cached_files(tmp_path / "cache")
    cached.write_bytes(cached.read_bytes()[:12])
    damaged = _app(tmp_path)
    compiles = _compiles(damaged, monkeypatch)
    assert _render(damaged, value="a") == "<p>a</p>"
    assert compiles == ["page.html"]
    assert len(cached.read_bytes()) > 12


def test_a_folder_others_may_write_to_is_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(0o777)
    app = _app(tmp_path)
    with caplog.at_level(logging.WARNING, logger="erlen.templates"):
        assert _render(app, value="a") == "<p>a</p>"
        assert _render(_app(tmp_path), value="b") == "<p>b</p>"
    assert _cached_files(folder) == []
    warnings = [record.getMessage() for record in caplog.records if record.name == "erlen.templates"]
    assert len(warnings) == 2  # one for each app, once
    assert f"others may write to {folder} (mode 777)" in warnings[0]
    assert "Set TEMPLATE_CACHE_DIR to a folder only the app's user may write to" in warnings[0]


def test_a_folder_that_cannot_be_made_leaves_pages_working(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    app = _app(tmp_path, TEMPLATE_CACHE_DIR=str(tmp_path / "file" / "cache"))
    with caplog.at_level(logging.WARNING, logger="erlen.templates"):
        assert _render(app, value="a") == "<p>a</p>"
        app.jinja_env.cache.clear()
        assert _render(app, value="b") == "<p>b</p>"
    (warning,) = [record.getMessage() for record in caplog.records if record.name == "erlen.templates"]
    assert warning.startswith("Compiled templates are not cached: [Errno 20] Not a directory")


def test_a_folder_gone_while_serving_turns_the_cache_off_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path)
    assert _render(app, value="a") == "<p>a</p>"
    shutil.rmtree(tmp_path / "cache")
    (tmp_path / "templates" / "other.html").write_text("{{ value }}!", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="erlen.templates"), app.test_request_context():
        assert render_template("other.html", value="b") == "b!"
        app.jinja_env.cache.clear()
        compiles = _compiles(app, monkeypatch)
        assert render_template("other.html", value="c") == "c!"
    assert compiles == ["other.html"]
    (warning,) = [record.getMessage() for record in caplog.records if record.name == "erlen.templates"]
    assert "writing to" in warning and "No such file or directory" in warning


def test_the_default_folder_is_the_users_own_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    app = _app(tmp_path, TEMPLATE_CACHE_DIR=None)
    assert _render(app, value="a") == "<p>a</p>"
    folder = tmp_path / "tmp" / f"_jinja2-cache-{os.getuid()}"
    assert len(_cached_files(folder)) == 1
    assert folder.stat().st_mode & 0o777 == 0o700


def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    app = _app(tmp_path, TEMPLATE_CACHE=False)
    assert app.jinja_env.bytecode_cache is None
    assert _render(app, value="a") == "<p>a</p>"
    assert not (tmp_path / "cache").exists()


def test_creating_the_app_touches_no_disk(tmp_path: Path) -> None:
    _app(tmp_path)
    assert not (tmp_path / "cache").exists()
