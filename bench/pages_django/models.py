"""The notes table, as ``bench_pages``'s Flask apps declare it (``bench_note``: id, title, body)."""

from __future__ import annotations

from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")

    class Meta:
        db_table = "bench_note"
        app_label = "pages_django"

    def __str__(self) -> str:
        return self.title
