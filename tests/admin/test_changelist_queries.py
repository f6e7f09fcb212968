"""Every changelist registered in the admin, now or later, stays fast at a million
rows: no COUNT over all matching rows (only a count bounded by LIMIT, see
common/admin_pagination.py), no SELECT DISTINCT (a list filter over a plain column
scans the whole table for its choices), and a number of queries that does not grow
with the number of rows shown."""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common.admin_pagination import BoundedCountPaginator
from tests.admin.conftest import _brand

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def label(item) -> str:
    return item[0]._meta.label


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def unbounded(sql: str) -> str | None:
    """Why ``sql`` would cost a scan of every matching row, or None."""
    upper = sql.upper()
    if "DISTINCT" in upper:
        return "SELECT DISTINCT"
    if re.search(r"\bCOUNT\(", upper) and " LIMIT " not in upper:
        return "COUNT without LIMIT"
    return None


def test_the_bounded_count_stops_at_its_window():
    paginator = BoundedCountPaginator(list(range(5000)), 100, page_hint=1)
    assert paginator.count == paginator.window + 1
    assert paginator.is_capped
    assert BoundedCountPaginator(list(range(50)), 100).is_capped is False


@pytest.mark.parametrize("item", REGISTERED, ids=label)
def test_changelist_runs_no_unbounded_count_or_distinct(
    item, brand_a, superuser_client
):
    model, _ = item
    with CaptureQueriesContext(connection) as captured:
        response = superuser_client.get(changelist(model))
    assert response.status_code == 200
    problems = [
        (why, query["sql"])
        for query in captured.captured_queries
        if (why := unbounded(query["sql"]))
    ]
    assert problems == []


@pytest.mark.parametrize("item", REGISTERED, ids=label)
def test_changelist_queries_do_not_grow_with_the_rows(item, brand_a, superuser_client):
    model, _ = item
    with CaptureQueriesContext(connection) as one_brand:
        superuser_client.get(changelist(model))
    _brand("gamma")  # a second brand: every table has twice the rows
    with CaptureQueriesContext(connection) as two_brands:
        response = superuser_client.get(changelist(model))
    assert response.status_code == 200
    assert len(two_brands.captured_queries) <= len(one_brand.captured_queries) + 1
