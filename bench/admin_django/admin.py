"""The notes' ModelAdmin, as Django's docs advise for a big table.

``show_full_result_count = False``: "the default ... generates a query to perform a full count on the
table which can be expensive if the table contains a large number of rows" (ModelAdmin options). The
paginator's own count of the (filtered) rows stays: Django's admin has no setting to avoid it.
"""

from __future__ import annotations

from django.contrib import admin

from .models import Note, PlainNote


class NoteAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "title", "author", "created")
    sortable_by = ("created",)
    ordering = ("id",)
    search_fields = ("title",)
    list_per_page = 20
    show_full_result_count = False


class PostgresNoteAdmin(NoteAdmin):
    """The same, on the ``postgres`` database (Django's docs' pattern for a ModelAdmin on another database)."""

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).using("postgres")


admin.site.register(Note, NoteAdmin)
postgres_site = admin.AdminSite(name="admin_pg")
postgres_site.register(PlainNote, PostgresNoteAdmin)
