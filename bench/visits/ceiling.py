"""The ceiling: the visits routes reduced to validation and one INSERT.

    uvicorn bench.visits.ceiling:create_app --factory

Each route validates the body with the visits service's own pydantic
model and stores it in one transaction, one INSERT into a scratch table,
on the same database, engine settings and error handlers as the service.
No token check, no state machine, no events: what is left is what any
endpoint on this stack pays, so the service's figures read against it.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from fastapi import FastAPI, Request, status
from sqlalchemy import text

from shared.db import create_engine, create_sessionmaker
from shared.errors import install_error_handlers
from visits.schemas import CheckInRequest, ResultRequest

SCHEMA = os.environ.get("BENCH_CEILING_SCHEMA", "bench_ceiling")
POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "5"))


def create_app() -> FastAPI:
    insert = text(
        f"INSERT INTO {SCHEMA}.requests (visit_id, kind, body) "
        "VALUES (:visit_id, :kind, CAST(:body AS jsonb))"
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(os.environ["DATABASE_URL"], pool_size=POOL_SIZE)
        app.state.sessionmaker = create_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="Visits ceiling", lifespan=lifespan)
    install_error_handlers(app)

    async def store(request: Request, visit_id: UUID, kind: str, body: str) -> None:
        async with request.app.state.sessionmaker() as session, session.begin():
            await session.execute(
                insert, {"visit_id": visit_id, "kind": kind, "body": body}
            )

    @app.post("/agent/visits/{visit_id}/check-in", status_code=status.HTTP_201_CREATED)
    async def check_in(
        visit_id: UUID, body: CheckInRequest, request: Request
    ) -> dict[str, str]:
        await store(request, visit_id, "check_in", body.model_dump_json())
        return {"visit_id": str(visit_id)}

    @app.post("/agent/visits/{visit_id}/result", status_code=status.HTTP_201_CREATED)
    async def result(
        visit_id: UUID, body: ResultRequest, request: Request
    ) -> dict[str, str]:
        await store(request, visit_id, "result", body.model_dump_json())
        return {"visit_id": str(visit_id)}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


CREATE_TABLE = """
CREATE SCHEMA {schema};
CREATE TABLE {schema}.requests (
    request_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id uuid NOT NULL,
    kind text NOT NULL,
    body jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
"""
