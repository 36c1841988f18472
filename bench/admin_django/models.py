"""The notes table, created and filled by the benchmark (``managed = False``)."""

from __future__ import annotations

from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=120)
    body = models.TextField()
    author = models.CharField(max_length=40)
    created = models.DateTimeField(db_index=True)

    class Meta:
        managed = False
        db_table = "bench_admin_note"
        app_label = "admin_django"

    def __str__(self) -> str:
        return self.title


class PlainNote(models.Model):
    """The same rows on PostgreSQL, in the copy of the table without erlen-db's search index."""

    title = models.CharField(max_length=120)
    body = models.TextField()
    author = models.CharField(max_length=40)
    created = models.DateTimeField(db_index=True)

    class Meta:
        managed = False
        db_table = "bench_admin_note_plain"
        app_label = "admin_django"

    def __str__(self) -> str:
        return self.title
