"""Row-level security for migrations: the two roles, their grants, the policies.

Services connect with a login role and switch to `campo_app` on every new
connection (DATABASE_ROLE). That role owns nothing and bypasses nothing, so
the policies below bind it. Operators' tools switch to `campo_operator`,
which bypasses row-level security and is audited instead (see ops/cli.py).
Migrations keep running as the owner, which row-level security never binds.

Each service's migration calls `ensure_roles` and `grant_schema`, then
`enable_tenant_policies` on its tenant-owned tables and
`enable_agent_policies` on the tables that record agents' work. Every step can
run again: the roles are cluster-wide and every service's migrations, and
every test database, run them.
"""

from collections.abc import Iterable

from alembic import op

APP_ROLE = "campo_app"
OPERATOR_ROLE = "campo_operator"
POLICY_NAME = "tenant_isolation"
AGENT_POLICY_NAME = "agent_isolation"
OPEN_POLICY_NAME = "platform_rows"

# A row is visible and writable when it belongs to the transaction's tenant,
# or when the transaction declared the platform scope. nullif turns the
# empty setting (none set, or reset at the end of a transaction) into NULL,
# which matches no row, instead of failing the uuid cast.
TENANT_PREDICATE = (
    "tenant_id = nullif(current_setting('campo.tenant_id', true), '')::uuid "
    "OR current_setting('campo.scope', true) = 'platform'"
)


# Restrictive, so it narrows what the tenant policy lets through instead of
# adding to it. Under an agent's scope only the agent's rows pass. With the
# setting empty (tenant and platform scopes) every row does.
_AGENT_ID = "nullif(current_setting('campo.agent_id', true), '')"
AGENT_PREDICATE = f"{_AGENT_ID} IS NULL OR agent_id = {_AGENT_ID}::uuid"


def _create_role_sql(role: str, attributes: str) -> str:
    # Two services migrating at once may both find the role missing; the
    # loser's duplicate is harmless, so it is swallowed.
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} {attributes};
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$"""


def ensure_roles() -> None:
    """Create the app and operator roles if they do not exist yet."""
    op.execute(_create_role_sql(APP_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS"))
    op.execute(_create_role_sql(OPERATOR_ROLE, "NOLOGIN NOSUPERUSER BYPASSRLS"))


def grant_schema(schema: str) -> None:
    """Give both roles DML on every table of `schema`, now and created later."""
    roles = f"{APP_ROLE}, {OPERATOR_ROLE}"
    for statement in (
        f'GRANT USAGE ON SCHEMA "{schema}" TO {roles}',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" '
        f"TO {roles}",
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {roles}',
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {roles}",
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
        f"GRANT USAGE, SELECT ON SEQUENCES TO {roles}",
        # The migration history is the owner's alone.
        f'REVOKE ALL ON "{schema}".alembic_version FROM {roles}',
    ):
        op.execute(statement)


def revoke_schema(schema: str) -> None:
    roles = f"{APP_ROLE}, {OPERATOR_ROLE}"
    for statement in (
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
        f"REVOKE ALL ON TABLES FROM {roles}",
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
        f"REVOKE ALL ON SEQUENCES FROM {roles}",
        f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {roles}',
        f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA "{schema}" FROM {roles}',
        f'REVOKE ALL ON SCHEMA "{schema}" FROM {roles}',
    ):
        op.execute(statement)


def enable_tenant_policies(schema: str, tables: Iterable[str]) -> None:
    for table in tables:
        name = f'"{schema}"."{table}"'
        op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {POLICY_NAME} ON {name} "
            f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
        )


def disable_tenant_policies(schema: str, tables: Iterable[str]) -> None:
    for table in tables:
        name = f'"{schema}"."{table}"'
        op.execute(f"DROP POLICY IF EXISTS {POLICY_NAME} ON {name}")
        op.execute(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY")


def enable_agent_policies(
    schema: str, tables: Iterable[str], *, platform_tables: Iterable[str] = ()
) -> None:
    """Narrow `tables` to the agent's own rows under an agent's scope.

    `tables` already have row-level security on (a tenant policy). Tables
    in `platform_tables` had none: they get it here with a policy that lets
    every row through, so that the agent policy alone decides.
    """
    for table in platform_tables:
        name = f'"{schema}"."{table}"'
        op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {OPEN_POLICY_NAME} ON {name} USING (true) WITH CHECK (true)"
        )
    for table in (*tables, *platform_tables):
        name = f'"{schema}"."{table}"'
        op.execute(
            f"CREATE POLICY {AGENT_POLICY_NAME} ON {name} AS RESTRICTIVE "
            f"USING ({AGENT_PREDICATE}) WITH CHECK ({AGENT_PREDICATE})"
        )


def disable_agent_policies(
    schema: str, tables: Iterable[str], *, platform_tables: Iterable[str] = ()
) -> None:
    for table in (*tables, *platform_tables):
        name = f'"{schema}"."{table}"'
        op.execute(f"DROP POLICY IF EXISTS {AGENT_POLICY_NAME} ON {name}")
    for table in platform_tables:
        name = f'"{schema}"."{table}"'
        op.execute(f"DROP POLICY IF EXISTS {OPEN_POLICY_NAME} ON {name}")
        op.execute(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY")
