# The audit trail's admin is registered by tenants/admin_audit.py: it needs the
# tenant scoping of tenants.admin, and audit sits below tenants.
