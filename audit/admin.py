# The audit trail's admin is tenants/admin_audit.py, registered by
# TenantsConfig.ready(): it needs the tenant scoping of tenants.admin, and audit sits
# below tenants.
