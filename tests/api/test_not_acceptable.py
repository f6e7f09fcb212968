import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/", "/api/v1/me"])
@pytest.mark.parametrize("accept", ["", "image/png", "text/x-nothing"])
def test_an_unservable_accept_header_is_answered_without_a_5xx(
    client, method, path, accept
):
    response = getattr(client, method)(path, HTTP_ACCEPT=accept, HTTP_X_TENANT="x")

    assert response.status_code in (400, 401, 404, 405, 406)
