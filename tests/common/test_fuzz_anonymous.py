"""Arbitrary bytes to every anonymous endpoint, in the path, the query string, the
body and every header a client controls: never a 5xx. Runs on PostgreSQL in CI,
where a NUL reaching a query used to be the 500."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adyen.factories import adyen_psp_config
from tests.factories import PlayerFactory, TenantFactory
from tests.payments.factories import PSPConfigFactory

pytestmark = pytest.mark.django_db

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
HEADERS = [
    "HTTP_X_TENANT",
    "HTTP_AUTHORIZATION",
    "HTTP_COOKIE",
    "CONTENT_TYPE",
    "HTTP_HOST",
    "HTTP_STRIPE_SIGNATURE",
    "HTTP_IDEMPOTENCY_KEY",
    "HTTP_X_REQUEST_ID",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_CSRFTOKEN",
    "HTTP_ACCEPT",
    "HTTP_REFERER",
]


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            found.append(route)
    return found


def every_path(endpoint_ids: dict[str, str]) -> list[str]:
    """Every route of the URLconf as a concrete path; regex routes lose their
    anchors, typed parameters get a plausible value or the endpoint id of a real
    PSP configuration."""
    paths = set()
    for route in _routes(get_resolver()):
        route = route.lstrip("^").replace("$", "").replace("\\Z", "")
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route)

        def value(match, route=route):
            name = match.group(2)
            if name == "endpoint_id":
                return endpoint_ids["stripe" if "stripe" in route else "adyen"]
            return "1" if (match.group(1) in ("int", "path") or "id" in name) else "x"

        paths.add("/" + _PARAM.sub(value, route))
    return sorted(paths)


# Junk mixed with the pieces that get a request past the first checks (a real
# brand, a known email, JSON and form syntax), so the junk reaches deep code.
FRAGMENTS = [
    b"alpha",
    b"known@example.com",
    b"tenant=",
    b"&",
    b"=",
    b"?",
    b"/",
    b"%00",
    b"\x00",
    b"\\u0000",
    b"%ff",
    b"\xff\xfe",
    b'"',
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b'{"email": "',
    b'", "password": "',
    b"Bearer ",
    b"sessionid=",
    b"1",
    b"-1",
    b"abc",
    b"\t",
    b"\r\n",
    b"e=1",
    b"q=",
    b"o=1",
    b"p=2",
]


def junk(max_parts: int = 6):
    return st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=8)),
        max_size=max_parts,
    ).map(b"".join)


header_bytes = junk().map(lambda raw: raw.decode("latin-1"))


@pytest.fixture
def anonymous_paths(db):
    stripe_config = PSPConfigFactory(tenant=TenantFactory(slug="alpha"))
    adyen = adyen_psp_config()
    PlayerFactory(tenant=stripe_config.tenant, email="known@example.com")
    return every_path({"stripe": stripe_config.endpoint_id, "adyen": adyen.endpoint_id})


def test_the_fuzzed_paths_cover_the_anonymous_doors(anonymous_paths):
    for expected in (
        "/api/v1/auth/login",
        "/api/v1/auth/register",
        "/admin/login/",
        "/login/",
        "/register/",
    ):
        assert expected in anonymous_paths
    assert any(path.startswith("/api/v1/webhooks/adyen/") for path in anonymous_paths)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_arbitrary_bytes_to_every_anonymous_endpoint_never_give_a_5xx(
    anonymous_paths, data
):
    from django.core.cache import cache

    cache.clear()
    client = Client(raise_request_exception=False)
    doors = [p for p in anonymous_paths if not p.startswith("/admin/")]
    admin = [p for p in anonymous_paths if p.startswith("/admin/")]
    path = data.draw(
        st.one_of(
            st.sampled_from(doors + ["/admin/login/"] * 3),
            st.sampled_from(doors),
            st.sampled_from(admin),
        ),
        label="path",
    )
    suffix = data.draw(st.one_of(st.just(b""), junk(3)), label="path suffix")
    query = data.draw(junk(8), label="query")
    body = data.draw(
        st.one_of(
            junk(12),
            st.sampled_from(
                [
                    b'{"email": "known@example.com", "password": "x"}',
                    b'{"a": "\\u0000"}',
                    b"[" * 5000,
                    b"\x00",
                ]
            ),
        ),
        label="body",
    )
    content_type = data.draw(
        st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "text/plain",
                "multipart/form-data; boundary=x",
            ]
        ),
        label="content type",
    )
    headers = {
        name: data.draw(header_bytes, label=name)
        for name in data.draw(
            st.lists(
                st.one_of(
                    st.sampled_from(HEADERS),
                    # any other header a client may invent
                    st.from_regex(r"\AHTTP_[A-Z][A-Z0-9_]{0,15}\Z"),
                ),
                unique=True,
                max_size=4,
            ),
            label="headers",
        )
    }
    if "HTTP_X_TENANT" not in headers and data.draw(st.booleans(), label="brand"):
        headers["HTTP_X_TENANT"] = "alpha"
    method = data.draw(
        st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]), label="method"
    )
    full_path = path + suffix.decode("latin-1")
    environ = {
        "PATH_INFO": full_path,
        "QUERY_STRING": query.decode("latin-1"),
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        **headers,
    }
    response = client.generic(
        method,
        full_path,
        data=body,
        content_type=environ.pop("CONTENT_TYPE"),
        **{
            k: v
            for k, v in environ.items()
            if k not in ("PATH_INFO", "REQUEST_METHOD", "CONTENT_LENGTH")
        },
    )

    assert response.status_code < 500, (
        method,
        full_path,
        query,
        headers,
        body[:80],
        response.content[:300],
    )
