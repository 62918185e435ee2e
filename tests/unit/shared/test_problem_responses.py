from shared.errors import (
    ConflictError,
    InvalidStateError,
    NotFoundError,
    UnprocessableError,
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
