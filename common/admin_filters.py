"""Changelist filters with fixed choices.

Django's default filter for a plain column (``list_filter = ["provider"]``) finds its
choices with ``SELECT DISTINCT column FROM table`` on every page load: a scan of the
whole table at a million rows. These filters know their choices without a query."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import admin


def fixed_choices_filter(
    *, field: str, title: str, choices: Callable[[], Iterable[str]]
) -> type[admin.SimpleListFilter]:
    """A list filter on ``field`` offering ``choices()`` (called per page load, so
    a registry filled at start-up is read when it is complete)."""

    class FixedChoicesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(value, value) for value in choices()]

        def queryset(self, request, queryset):
            if self.value():
                return queryset.filter(**{field: self.value()})
            return queryset

    FixedChoicesFilter.title = title
    FixedChoicesFilter.__name__ = f"{field.title().replace('_', '')}Filter"
    return FixedChoicesFilter
