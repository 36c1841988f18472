"""A plugin whose table has the name of the blog plugin's."""

from __future__ import annotations

import sqlalchemy as sa

import erlen

PLUGIN = erlen.Plugin(name="clash", requires=["db"])

metadata = sa.MetaData()
posts = sa.Table("blog_post", metadata, sa.Column("id", sa.Integer, primary_key=True))


@erlen.hookimpl
def erlen_db_models() -> list[sa.MetaData]:
    return [metadata]
