from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from shared.errors import (
    ConflictError,
    InvalidStateError,
    NotFoundError,
    UnprocessableError,
    install_error_handlers,
    problem_responses,
)


class OtherUnprocessableError(UnprocessableError):
    code = "other-problem"
    title = "Another problem"


def test_same_status_merged() -> None:
    responses = problem_responses(UnprocessableError, OtherUnprocessableError)

    assert list(responses) == [422]
    description = responses[422]["description"]
    assert "unprocessable" in description
    assert "Unprocessable content" in description
    assert "other-problem" in description
    assert "Another problem" in description


def test_other_statuses_kept_apart() -> None:
    responses = problem_responses(NotFoundError, ConflictError, InvalidStateError)

    assert sorted(responses) == [404, 409]
    assert "invalid-state" in responses[409]["description"]
    assert "conflict" in responses[409]["description"]
    assert "invalid-state" not in responses[404]["description"]


def test_lone_surrogate_in_body_is_a_422() -> None:
    app = FastAPI()
    install_error_handlers(app)

    class Note(BaseModel):
        note: str = Field(max_length=5)

    @app.post("/notes")
    async def post_note(body: Note) -> dict[str, str]:
        return {"stored": "yes"}

    client = TestClient(app)
    response = client.post(
        "/notes",
        # Too long, so the problem echoes the note with its lone surrogate.
        content=b'{"note": "a\\ud800bcdefgh"}',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["type"].endswith("validation-error")
    assert "\ufffd" in response.text
