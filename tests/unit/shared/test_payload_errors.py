"""An invalid event's error names the fields, never the values it carried."""

import uuid

import pytest
from pydantic import ValidationError

from shared.events.payloads import VisitCompleted


def test_validation_error_leaves_the_input_out() -> None:
    data = {
        "tenant_id": str(uuid.uuid4()),
        "visit_id": str(uuid.uuid4()),
        "new_phone": {"number": "+525512345678"},
        "notes": ["Rosario Quintanilla vive en Calle Mina 15"],
    }

    with pytest.raises(ValidationError) as raised:
        VisitCompleted.model_validate(data)

    text = str(raised.value)
    assert "notes" in text
    assert "new_phone" in text
    assert "Quintanilla" not in text
    assert "+525512345678" not in text
