from reporting.models import SCHEMA, Base
from shared.migrations import run_alembic_env

run_alembic_env(Base.metadata, SCHEMA)
