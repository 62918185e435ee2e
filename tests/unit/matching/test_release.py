from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from matching.dispatch import check_in_deadline
from matching.schemas import ReleaseIn
from shared.events.payloads import ReleaseReason

ASSIGNED_AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


class TestCheckInDeadline:
    def test_within_hours_before_deadline(self) -> None:
        deadline = ASSIGNED_AT + timedelta(hours=72)

        due = check_in_deadline(deadline, ASSIGNED_AT, timedelta(hours=48))

        assert due == ASSIGNED_AT + timedelta(hours=48)

    def test_deadline_when_sooner(self) -> None:
        deadline = ASSIGNED_AT + timedelta(hours=20)

        due = check_in_deadline(deadline, ASSIGNED_AT, timedelta(hours=48))

        assert due == deadline

    def test_no_limit_means_deadline(self) -> None:
        deadline = ASSIGNED_AT + timedelta(hours=72)

        assert check_in_deadline(deadline, ASSIGNED_AT, None) == deadline


class TestReleaseIn:
    def test_agent_reasons_are_release_reasons(self) -> None:
        for reason in ("cannot_reach", "unsafe", "schedule_conflict", "personal"):
            assert ReleaseIn(reason=reason).reason.value == ReleaseReason(reason)

    @pytest.mark.parametrize(
        "reason", ["no_check_in", "agent_suspended", "visit_withdrawn"]
    )
    def test_matching_reasons_rejected(self, reason: str) -> None:
        with pytest.raises(ValidationError):
            ReleaseIn(reason=reason)
