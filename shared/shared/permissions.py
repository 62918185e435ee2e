"""Scopes of tenant API keys, all in one place.

Every endpoint a tenant calls names the one scope it needs (through the
caller annotations in `shared.api`, such as `ResultsReader`), and the
OpenAPI document lists it under the operation's security requirement, so
integrators read it next to the endpoint. An API key carries the scopes it
was created with.
"""

from enum import StrEnum


class Scope(StrEnum):
    """A permission a tenant's API key can hold."""

    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_WRITE = "accounts:write"
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_WRITE = "campaigns:write"
    PAYMENTS_WRITE = "payments:write"
    RESULTS_READ = "results:read"
    VISITS_REVIEW = "visits:review"
    SETTINGS_READ = "settings:read"
    SETTINGS_WRITE = "settings:write"
    WEBHOOKS_MANAGE = "webhooks:manage"
    KEYS_MANAGE = "keys:manage"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    PERSONAL_READ = "personal:read"


class Role(StrEnum):
    """The role a person's login carries; an agent logs in through matching."""

    TENANT_ADMIN = "tenant_admin"
    DIRECTOR = "director"
    ANALYST = "analyst"


SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.ACCOUNTS_READ: "read accounts, uploads and their rows",
    Scope.ACCOUNTS_WRITE: "upload portfolios and create or change accounts",
    Scope.CAMPAIGNS_READ: "read campaigns and the visits they requested",
    Scope.CAMPAIGNS_WRITE: "create, launch and change campaigns and selections",
    Scope.PAYMENTS_WRITE: "report payments made by debtors",
    Scope.RESULTS_READ: "read visits, results, offers, figures, the stream and exports",
    Scope.VISITS_REVIEW: "reject completed visits and resolve agents' appeals",
    Scope.SETTINGS_READ: "read the tenant's settings, codes and mappings",
    Scope.SETTINGS_WRITE: "change the tenant's settings, codes and mappings",
    Scope.WEBHOOKS_MANAGE: "create, change and delete webhook subscriptions",
    Scope.KEYS_MANAGE: "create, list and revoke the tenant's API keys",
    Scope.USERS_MANAGE: "create, change and disable the tenant's users",
    Scope.AUDIT_READ: "read the log of who read debtors' personal data",
    Scope.PERSONAL_READ: (
        "see debtors' full names and phones in what the other scopes read; "
        "without it they come masked"
    ),
}

ALL_SCOPES: frozenset[Scope] = frozenset(Scope)
# A key made without a scope list may do everything except manage keys and
# users and read the audit log, so that a key handed to an integration can
# neither mint more access nor see who else reads the data.
DEFAULT_KEY_SCOPES: frozenset[Scope] = ALL_SCOPES - {
    Scope.KEYS_MANAGE,
    Scope.USERS_MANAGE,
    Scope.AUDIT_READ,
}

# Scopes that guard no endpoint of their own but widen what others return.
WIDENING_SCOPES: frozenset[Scope] = frozenset({Scope.PERSONAL_READ})

# The permission matrix of people: what each role may do. A director runs
# campaigns and reviews visits; integrations (keys, webhooks) and people are
# the administrator's; an analyst only reads, and reads figures, not people:
# debtors' names and phones come masked.
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.TENANT_ADMIN: ALL_SCOPES,
    Role.DIRECTOR: ALL_SCOPES
    - {
        Scope.KEYS_MANAGE,
        Scope.USERS_MANAGE,
        Scope.WEBHOOKS_MANAGE,
        Scope.AUDIT_READ,
    },
    Role.ANALYST: frozenset(
        {
            Scope.ACCOUNTS_READ,
            Scope.CAMPAIGNS_READ,
            Scope.RESULTS_READ,
            Scope.SETTINGS_READ,
        }
    ),
}


def scopes_help() -> str:
    """Return one line per scope with what it allows, for documentation."""
    return "\n".join(
        f"- `{scope.value}`: {SCOPE_DESCRIPTIONS[scope]}" for scope in Scope
    )


def parse_scopes(values: list[str] | tuple[str, ...]) -> frozenset[Scope]:
    """Turn scope names into scopes; raise ValueError naming any unknown one."""
    unknown = sorted(set(values) - {scope.value for scope in Scope})
    if unknown:
        raise ValueError(
            f"unknown scope {', '.join(unknown)}; valid scopes are "
            f"{', '.join(sorted(scope.value for scope in Scope))}"
        )
    return frozenset(Scope(value) for value in values)


def scopes_beyond(
    requested: frozenset[Scope], caller_scopes: frozenset[Scope]
) -> list[str]:
    """Return the names of scopes in `requested` that the caller lacks, sorted.

    A caller may hand out, take away or touch only access it has itself: a
    key it creates or revokes, a role it gives or changes. A non-empty
    result means the request must be rejected.
    """
    return sorted(scope.value for scope in requested - caller_scopes)


def stored_scopes(scopes: frozenset[Scope]) -> list[str]:
    """Return scopes as a sorted list of names, as stored and sent in events."""
    return sorted(scope.value for scope in scopes)
