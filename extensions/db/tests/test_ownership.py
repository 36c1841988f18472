from __future__ import annotations

import app_models  # noqa: F401  (defines the app's own models)
import pytest
import sqlalchemy as sa

import erlen
import erlen_db
from erlen.testing import MakeApp
from erlen_db.model import NAMING_CONVENTION
from erlen_db.testing import MakeDbApp


def test_app_models_belong_to_the_app(make_db_app: MakeDbApp) -> None:
    app = make_db_app()
    owners = erlen_db.database_of(app).tables_by_owner()
    assert {"author", "book"} <= {table.key for table in owners["app"]}


def test_plugin_tables_belong_to_the_plugin(make_db_app: MakeDbApp) -> None:
    app = make_db_app(["sample_plugins.blog", "sample_plugins.tags"])
    owners = erlen_db.database_of(app).tables_by_owner()
    assert [table.key for table in owners["blog"]] == ["blog_post"]
    assert [table.key for table in owners["tags"]] == ["tags_tag"]
    assert "tags_tag" not in {table.key for table in owners["app"]}


def test_two_plugins_with_one_table_name_is_a_startup_error(make_db_app: MakeDbApp) -> None:
    with pytest.raises(erlen_db.TableConflictError) as info:
        make_db_app(["sample_plugins.blog", "sample_plugins.clash"])
    assert "'blog'" in str(info.value) and "'clash'" in str(info.value) and "blog_post" in str(info.value)


def test_app_table_with_a_plugin_table_name_is_an_error(make_db_app: MakeDbApp) -> None:
    table = sa.Table("blog_post", erlen_db.Model.metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        app = make_db_app(["sample_plugins.blog"])
        with pytest.raises(erlen_db.TableConflictError, match="The app and plugin 'blog'"):
            erlen_db.database_of(app).tables_by_owner()
    finally:
        erlen_db.Model.metadata.remove(table)


def test_returning_the_shared_base_is_an_error(make_app: MakeApp) -> None:
    with pytest.raises(erlen.PluginError, match=r"bad_models.*shared erlen_db.Model"):
        make_app(["db", "sample_plugins.bad_models"])


def test_returning_one_metadata_instead_of_a_list_names_the_plugin(make_app: MakeApp) -> None:
    # Used to fail inside the db plugin's erlen_init_app with "'MetaData' object is not iterable", blaming 'db'.
    with pytest.raises(erlen.PluginError) as caught:
        make_app(["db", "sample_plugins.lone_metadata"])
    assert caught.value.plugin == "lone_metadata"
    assert str(caught.value) == (
        "Plugin 'lone_metadata': erlen_db_models returned MetaData; it must return a list of models, MetaData or "
        "Tables. Wrap a single one in a list."
    )


def test_create_all_creates_every_owners_tables_with_conventional_names(make_db_app: MakeDbApp) -> None:
    app = make_db_app(["sample_plugins.blog", "sample_plugins.tags"])
    database = erlen_db.database_of(app)
    database.create_all()
    inspector = sa.inspect(database.engine)
    names = set(inspector.get_table_names())
    assert {"author", "book", "blog_post", "tags_tag"} <= names
    assert {index["name"] for index in inspector.get_indexes("book")} == {"ix_book_title"}
    if database.engine.dialect.name == "postgresql":
        assert inspector.get_pk_constraint("author")["name"] == "pk_author"
        assert {u["name"] for u in inspector.get_unique_constraints("author")} == {"uq_author_name"}
        assert {f["name"] for f in inspector.get_foreign_keys("book")} == {"fk_book_author_id_author"}
    database.drop_all()
    assert not {"author", "book", "blog_post", "tags_tag"} & set(sa.inspect(database.engine).get_table_names())


def test_naming_convention_is_on_the_shared_metadata() -> None:
    assert erlen_db.Model.metadata.naming_convention == NAMING_CONVENTION | {"ix": NAMING_CONVENTION["ix"]}
    assert erlen_db.naming_metadata().naming_convention == erlen_db.Model.metadata.naming_convention


def test_models_pass_mypy_without_ignores() -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed")
    from pathlib import Path

    here = Path(__file__).parent
    files = [str(here / "app_models.py"), str(here / "sample_plugins" / "blog.py")]
    for file in files:
        assert "type: ignore" not in Path(file).read_text()
    out, err, status = api.run(["--strict", "--no-incremental", "--follow-imports=silent", *files])
    assert status == 0, out + err


def test_tables_of_plugins_not_enabled_are_not_the_apps(make_db_app: MakeDbApp) -> None:
    with_tags = make_db_app(["sample_plugins.tags"])
    assert "tags_tag" in {table.key for table in erlen_db.database_of(with_tags).tables_by_owner()["tags"]}
    without = make_db_app()
    assert "tags_tag" not in {table.key for table in erlen_db.database_of(without).tables()}


def test_metadata_of_one_owner(make_db_app: MakeDbApp) -> None:
    app = make_db_app(["sample_plugins.blog"])
    database = erlen_db.database_of(app)
    assert set(database.metadata_of("blog").tables) == {"blog_post"}
    assert {"author", "book"} <= set(database.metadata_of("app").tables)
    assert database.metadata_of("app").naming_convention == erlen_db.Model.metadata.naming_convention
    with pytest.raises(KeyError):
        database.metadata_of("nobody")
