#!/usr/bin/env bash
# Apply every service's migrations to DATABASE_URL; used by docker-compose's
# one-shot `migrate` service and safe to run again.
set -euo pipefail
if command -v campo-admin >/dev/null 2>&1; then
  exec campo-admin migrate
fi
exec uv run --frozen campo-admin migrate
