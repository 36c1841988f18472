"""``erlen new-plugin NAME``: a third-party plugin's package, which installs and passes its own tests."""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from erlen.cli import cli, new_plugin
from erlen.testing import service_unavailable

EXPECTED = [
    "README.md",
    "pyproject.toml",
    "src/erlen_bookmarks/__init__.py",
    "src/erlen_bookmarks/forms.py",
    "src/erlen_bookmarks/models.py",
    "src/erlen_bookmarks/plugin.py",
    "src/erlen_bookmarks/py.typed",
    "src/erlen_bookmarks/templates/bookmarks/base.html",
    "src/erlen_bookmarks/templates/bookmarks/index.html",
    "src/erlen_bookmarks/templates/bookmarks/new.html",
    "src/erlen_bookmarks/views.py",
    "tests/conftest.py",
    "tests/test_bookmarks.py",
]


#: Why a test of the generated plugin skips in tests-core (core alone) and where CI runs it with every package.
WHERE_IT_RUNS = "tests-core installs core alone; integration runs this test with every package"


def scaffold(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["new-plugin", *args, "--directory", str(tmp_path)], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def no_auth_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scaffold without erlen-auth installed: its first revision's id is made up."""
    monkeypatch.setattr(new_plugin, "auth_base_revision", lambda: "0123456789ab")


def test_it_writes_a_distribution_with_the_plugin_structure(
    tmp_path: Path, no_auth_needed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no app anywhere: the command needs none
    monkeypatch.delenv("ERLEN_APP", raising=False)
    monkeypatch.delenv("FLASK_APP", raising=False)
    code, output = scaffold(tmp_path, "bookmarks", "--description", "Bookmarks for everyone.")
    assert code == 0, output
    root = tmp_path / "erlen-bookmarks"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    (migration,) = [f for f in files if "/migrations/" in f]
    assert [f for f in files if f != migration] == EXPECTED
    with (root / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    assert project["name"] == "erlen-bookmarks" and project["description"] == "Bookmarks for everyone."
    assert project["entry-points"]["erlen.plugins"] == {"bookmarks": "erlen_bookmarks.plugin"}
    for path in root.rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))
    text = (root / migration).read_text()
    assert 'branch_labels: str | Sequence[str] | None = ("bookmarks",)' in text
    assert 'depends_on: str | Sequence[str] | None = "0123456789ab"' in text
    assert "$" not in "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    assert "cd " in output and "pytest" in output


def test_the_declaration_shows_the_title_field(tmp_path: Path, no_auth_needed: None) -> None:
    """The generated ``erlen.Plugin(...)`` spells out ``title=``, the name made a word, for the author to change."""
    code, output = scaffold(tmp_path, "reading_list")
    assert code == 0, output
    source = (tmp_path / "erlen-reading-list" / "src" / "erlen_reading_list" / "plugin.py").read_text()
    (declaration,) = [
        node.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["PLUGIN"]
    ]
    assert isinstance(declaration, ast.Call) and ast.unparse(declaration.func) == "erlen.Plugin"
    keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in declaration.keywords}
    assert keywords["name"] == "reading_list" and keywords["title"] == "Reading list"


@pytest.mark.parametrize("name", ["Bookmarks", "1st", "my-plugin", "erlen_things", "erlen", ""])
def test_it_refuses_names_that_make_no_package(tmp_path: Path, no_auth_needed: None, name: str) -> None:
    code, output = scaffold(tmp_path, name)
    assert code == 2 and "NAME" in output
    assert not any(tmp_path.iterdir())


def test_it_does_not_overwrite_a_folder(tmp_path: Path, no_auth_needed: None) -> None:
    (tmp_path / "erlen-bookmarks").mkdir()
    code, output = scaffold(tmp_path, "bookmarks")
    assert code == 1 and "exists already" in output


def test_it_asks_for_erlen_auth_when_it_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        new_plugin.importlib.util, "find_spec", lambda name, *a: None if name == "erlen_auth" else real(name, *a)
    )
    code, output = scaffold(tmp_path, "bookmarks")
    assert code == 1 and "install erlen-auth first" in output


def _installer(target: Path, folder: Path) -> list[str] | None:
    """A command that installs ``folder`` (without dependencies) into ``target``, or ``None``."""
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--python", sys.executable, "--no-deps", "--target", str(target), str(folder)]
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, check=False)
    if pip.returncode == 0:
        return [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(folder)]
    return None


def test_the_generated_plugin_installs_and_its_tests_pass(tmp_path: Path) -> None:
    for module in ("erlen_db", "erlen_forms", "erlen_auth", "erlen_migrate", "erlen_admin"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: {WHERE_IT_RUNS}")
    code, output = scaffold(tmp_path, "bookmarks")
    assert code == 0, output
    folder = tmp_path / "erlen-bookmarks"
    site = tmp_path / "site"
    command = _installer(site, folder)
    if command is None:
        service_unavailable("neither uv nor pip is available to install the plugin")
    installed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (site / "erlen_bookmarks" / "plugin.py").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERLEN_") or k == "ERLEN_REQUIRE_SERVICES"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and " failed" not in tests.stdout


def _imported_modules(root: Path) -> set[str]:
    """The top-level modules the generated package and its tests import, ``pytest.importorskip`` included."""
    found: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(str(node.args[0].value).split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__"}


def _with_requirements(names: set[str]) -> set[str]:
    """``names`` (installed distributions) and every distribution they require, without extras."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [canonicalize_name(name) for name in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = requires(name) or []
        except PackageNotFoundError:
            continue
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def _installed(distribution: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(distribution)
    except PackageNotFoundError:
        return False
    return True


def test_the_test_extra_installs_everything_the_generated_code_imports(tmp_path: Path) -> None:
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    # The scaffold's model refers to erlen-auth's users: tests-core installs erlen alone.
    pytest.importorskip("erlen_auth", reason="erlen-auth is not installed (the integration session runs this test)")
    code, output = scaffold(tmp_path, "bookmarks")
    assert code == 0, output
    folder = tmp_path / "erlen-bookmarks"
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    declared = {Requirement(text).name for text in requirements}
    installable = _with_requirements(declared)
    providers = packages_distributions()
    missing = []
    for module in sorted(_imported_modules(folder) - {"erlen_bookmarks"}):
        # Editable installs may not list their modules: Erlen's are named after their distribution.
        names = providers.get(module) or [module.replace("_", "-")]
        if not _installed(names[0]):
            pytest.skip(f"{module} is not installed: {WHERE_IT_RUNS}")
        if not {canonicalize_name(name) for name in names} & installable:
            missing.append(f"{module} (from {', '.join(names)})")
    assert missing == [], f"imported by the generated plugin, not installed by its [test] extra: {missing}"


def test_the_generated_migration_creates_and_drops_the_admin_s_search_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin view searches the entries' titles, which the first migration left without an index (admin.W002)."""
    for module in ("erlen_db", "erlen_forms", "erlen_auth", "erlen_migrate", "erlen_admin"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: {WHERE_IT_RUNS}")
    import sqlalchemy

    import erlen
    import erlen_db
    from erlen.checks import run_checks

    code, output = scaffold(tmp_path, "pins")
    assert code == 0, output
    monkeypatch.syspath_prepend(str(tmp_path / "erlen-pins" / "src"))
    try:
        app = erlen.create_app(
            "pins_app",
            {
                "PLUGINS": ["db", "forms", "migrate", "auth", "admin", "erlen_pins.plugin"],
                "SECRET_KEY": "test",
                "DB_URL": f"sqlite:///{tmp_path / 'pins.sqlite3'}",
                "MIGRATE_APP_DIRECTORY": str(tmp_path / "none"),
            },
            environ={},
        )
        runner = app.test_cli_runner()
        upgrade = runner.invoke(args=["db", "upgrade"])
        assert upgrade.exit_code == 0, upgrade.output
        database = erlen_db.database_of(app)
        with database.engine.connect() as connection:
            assert erlen_db.search_index_columns(connection, "pins_entry") == {"title"}
        assert [m.message for m in run_checks(app) if m.id == "admin.W002" and "pins_entry" in m.message] == []
        assert runner.invoke(args=["db", "check"]).exit_code == 0
        downgrade = runner.invoke(args=["db", "downgrade", "--plugin", "pins", "base"])
        assert downgrade.exit_code == 0, downgrade.output
        with database.engine.connect() as connection:
            left = set(sqlalchemy.inspect(connection).get_table_names())
        assert "pins_entry" not in left and "pins_entry_search" not in left, left  # the FTS5 table went too
        database.dispose()
    finally:
        for module in list(sys.modules):
            if module == "erlen_pins" or module.startswith("erlen_pins."):
                del sys.modules[module]
