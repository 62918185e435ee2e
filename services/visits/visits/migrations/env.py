from shared.migrations import run_alembic_env
from visits.models import SCHEMA, Base

run_alembic_env(Base.metadata, SCHEMA)
