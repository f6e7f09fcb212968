from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

X_TENANT = OpenApiParameter(
    "X-Tenant",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The brand's slug. Without it the brand is found from the request's "
    "host name (its TenantDomain).",
)


class TenantAutoSchema(AutoSchema):
    """Documents the X-Tenant header on every player API operation."""

    def get_override_parameters(self):
        return [X_TENANT, *super().get_override_parameters()]
