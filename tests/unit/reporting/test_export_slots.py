"""The count of running exports, per tenant and in the process."""

import uuid

import pytest

from reporting.export_slots import ExportSlots
from shared.errors import TooManyRequestsError

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_each_tenant_has_its_own_limit() -> None:
    slots = ExportSlots(per_tenant=1, total=3)
    slots.take(A)
    with pytest.raises(TooManyRequestsError, match="1 exports of this tenant"):
        slots.take(A)
    slots.take(B)
    assert slots.running == {A: 1, B: 1}


def test_process_limit_counts_every_tenant() -> None:
    slots = ExportSlots(per_tenant=2, total=2)
    slots.take(A)
    slots.take(B)
    with pytest.raises(TooManyRequestsError, match="already writing 2 exports"):
        slots.take(C)


def test_ending_twice_gives_back_one_slot() -> None:
    slots = ExportSlots(per_tenant=2, total=2)
    end = slots.take(A)
    slots.take(A)
    end()
    end()
    assert slots.running == {A: 1}
    slots.take(B)
    with pytest.raises(TooManyRequestsError):
        slots.take(C)
