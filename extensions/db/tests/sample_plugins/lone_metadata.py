"""A plugin returning its MetaData itself where erlen_db_models expects a list."""

from __future__ import annotations

import sqlalchemy as sa

import erlen

PLUGIN = erlen.Plugin(name="lone_metadata", requires=["db"])

metadata = sa.MetaData()
sa.Table("lone_metadata_item", metadata, sa.Column("id", sa.Integer, primary_key=True))


@erlen.hookimpl
def erlen_db_models() -> sa.MetaData:
    return metadata
