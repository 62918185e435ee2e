"""Events on the live stream: personal data masked without personal:read."""

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from reporting.stream import _event_document


def completed_event() -> Any:
    return SimpleNamespace(
        seq=7,
        event_type="visit.completed",
        event_id=uuid.uuid4(),
        occurred_at=datetime(2026, 12, 5, 10, tzinfo=UTC),
        campaign_id=None,
        data={
            "new_phone": "+525598765432",
            "notes": "volver el lunes",
            "update": {"phones": [{"number": "+525511112222", "kind": "home"}]},
        },
    )


def test_masked_document_hides_phones_and_notes() -> None:
    data: Any = _event_document(completed_event(), mask_personal=True)["data"]

    assert data["new_phone"] == "+5255******32"
    assert data["update"]["phones"][0]["number"] == "+5255******22"
    assert data["notes"] == "***"


def test_full_document_unchanged() -> None:
    event = completed_event()

    assert _event_document(event, mask_personal=False)["data"] == event.data
