"""add the app and operator roles and row-level security on tenant rows

The services switch to campo_app on every connection; the policies on the
tenant-owned tables below let it see only the rows of the tenant its
transaction names, or every row under the platform scope.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 06:00:00
"""

from collections.abc import Sequence

from shared.rls import (
    disable_tenant_policies,
    enable_tenant_policies,
    ensure_roles,
    grant_schema,
    revoke_schema,
)

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "visits"
# Tenant-owned tables. The outbox, handled events, the tenant directory, API
# keys and idempotency records are the platform's machinery: they are read
# before a tenant is known (authentication) or across tenants (the relay).
# The agents' earnings ledger stays out too: it is the platform's, per agent.
TENANT_TABLES = (
    "assignment_releases",
    "check_ins",
    "photos",
    "promise_payments",
    "promises",
    "results",
    "reviews",
    "tenant_result_codes",
    "tenant_visit_rules",
    "visits",
)


def upgrade() -> None:
    ensure_roles()
    grant_schema(SCHEMA)
    enable_tenant_policies(SCHEMA, TENANT_TABLES)


def downgrade() -> None:
    disable_tenant_policies(SCHEMA, TENANT_TABLES)
    revoke_schema(SCHEMA)
