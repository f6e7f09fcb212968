"""A changelist paginator that never counts a whole table.

Django's admin paginator runs ``SELECT COUNT(*)`` over every row the changelist's
filters match, on every page load; at a million rows of one brand that count is most
of the page's time (and ``show_full_result_count = False`` only drops the second,
unfiltered count). ``BoundedCountPaginator`` counts at most a window of rows instead:
``SELECT COUNT(*) FROM (SELECT … LIMIT window + 1)``, which stops after the window
whatever the table's size. The window covers the page asked for plus a few more,
so every page stays reachable by "next"; past the window the changelist says
"more than N" instead of an exact total.

Every tenant-scoped admin uses it (``tenants.admin.TenantScopedAdmin.get_paginator``);
``tests/admin/test_changelist_queries.py`` fails when a changelist counts or
de-duplicates without a bound.
"""

from __future__ import annotations

from functools import cached_property

from django.contrib.admin import ShowFacets
from django.core.paginator import Paginator

#: Pages counted beyond the one shown (so the page links show a few ahead).
PAGES_AHEAD = 9


class BoundedCountPaginator(Paginator):
    def __init__(self, object_list, per_page, *args, page_hint: int = 1, **kwargs):
        super().__init__(object_list, per_page, *args, **kwargs)
        self.page_hint = max(1, page_hint)

    @property
    def window(self) -> int:
        return (self.page_hint + PAGES_AHEAD) * self.per_page

    @cached_property
    def count(self) -> int:
        """The number of matching rows, but never more than ``window + 1``."""
        object_list = self.object_list
        if hasattr(object_list, "order_by"):
            # No ORDER BY in the bounded count: PostgreSQL stops at the LIMIT
            # instead of sorting every matching row first.
            # Only the ids: annotations (a derived balance, ...) are not computed
            # for rows that are only counted.
            return object_list.order_by().values("pk")[: self.window + 1].count()
        return min(len(object_list), self.window + 1)

    @property
    def is_capped(self) -> bool:
        """True when there are more rows than were counted."""
        return self.count > self.window

    @property
    def shown_count(self) -> int:
        return min(self.count, self.window)


def paginator_for_request(request, queryset, per_page, *args, **kwargs) -> Paginator:
    """What ``ModelAdmin.get_paginator`` returns: a bounded paginator that counts up
    to a window past the page the request asks for (``?p=N``)."""
    try:
        page = int(request.GET.get("p", 1))
    except (TypeError, ValueError):
        page = 1
    return BoundedCountPaginator(queryset, per_page, *args, page_hint=page, **kwargs)


class BoundedCountAdminMixin:
    """For a ModelAdmin: the bounded paginator, no full count, no facet counts."""

    show_full_result_count = False
    show_facets = ShowFacets.NEVER

    def get_paginator(self, request, queryset, per_page, *args, **kwargs):
        return paginator_for_request(request, queryset, per_page, *args, **kwargs)
