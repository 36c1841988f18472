"""The README's "Scoping rows" plugin, run as shown: an editor sees and changes their own teams' notes only."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PLUGINS

from erlen_auth.testing import login_as

README = Path(__file__).parents[1] / "README.md"
#: The module name the README's plugin is written to (a name no other test module uses).
MODULE = "readme_teamnotes"


def snippet() -> str:
    section = README.read_text().split("## Scoping rows", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's Scoping rows section has no Python snippet"
    return found.group(1)


@pytest.fixture(scope="session")
def snippet_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder holding the snippet as a module, on ``sys.path`` for the session: its models are declared once."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / f"{MODULE}.py").write_text(snippet())
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))


@pytest.fixture
def erlen_plugins(snippet_folder: Path) -> list[str]:
    return [*PLUGINS, MODULE]


def test_the_readme_scope_runs_as_shown(app, create_user, db_session):
    from erlen_auth import Role, grant

    teamnotes = sys.modules[MODULE]
    editor = create_user("editor@example.com", roles=["editors"])
    role = db_session.scalar(sa.select(Role).where(Role.name == "editors"))
    grant(role, "admin.access", "admin.teamnotes_note.view", app=app)
    db_session.add(teamnotes.Membership(user_id=editor.id, team="red"))
    db_session.add_all([teamnotes.Note(title="Ours", team="red"), teamnotes.Note(title="Theirs", team="blue")])
    db_session.commit()
    theirs = db_session.scalar(sa.select(teamnotes.Note.id).where(teamnotes.Note.title == "Theirs"))
    client = app.test_client()
    login_as(client, editor)
    page = client.get("/admin/m/teamnotes_note/")
    assert page.status_code == 200
    assert "Ours" in page.text and "Theirs" not in page.text
    assert client.get(f"/admin/m/teamnotes_note/{theirs}/").status_code == 404
