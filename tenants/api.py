from rest_framework.views import APIView

from tenants.schema import TenantAutoSchema
from tenants.selectors import tenant_get_for_request


class TenantApi(APIView):
    """Base for every player API view: resolves ``request.tenant`` before
    authentication runs, so tokens are checked against the brand of the request."""

    schema = TenantAutoSchema()

    def initial(self, request, *args, **kwargs):
        tenant = tenant_get_for_request(
            header_slug=request.headers.get("X-Tenant"), host=request.get_host()
        )
        request.tenant = tenant
        request._request.tenant = tenant
        super().initial(request, *args, **kwargs)
