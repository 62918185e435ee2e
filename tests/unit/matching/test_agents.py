import uuid

import pytest
from pydantic import ValidationError

from matching.agents import AgentSpec
from matching.models import AgentStatus, TravelMode

VALID = {"name": "Rosa Méndez", "phone": "+525512345678", "lat": 19.43, "lon": -99.13}


def _error_text(**overrides: object) -> str:
    with pytest.raises(ValidationError) as caught:
        AgentSpec(**{**VALID, **overrides})
    return str(caught.value)


class TestAgentSpec:
    def test_defaults(self) -> None:
        spec = AgentSpec(**VALID)

        assert spec.coverage_radius_m == 5000
        assert spec.daily_capacity == 8
        assert spec.travel_mode is TravelMode.MOTORCYCLE
        assert spec.verified is True
        assert spec.status is AgentStatus.ONLINE
        assert spec.employer_tenant_id is None

    def test_accepts_employer_tenant(self) -> None:
        tenant_id = uuid.uuid4()

        spec = AgentSpec(**VALID, employer_tenant_id=tenant_id, travel_mode="car")

        assert spec.employer_tenant_id == tenant_id
        assert spec.travel_mode is TravelMode.CAR

    @pytest.mark.parametrize(
        "phone",
        [
            "5512345678",
            "+0512345678",
            "+52 55 1234 5678",
            "+52551",
            "+5255123456789012",
        ],
    )
    def test_rejects_non_e164_phone(self, phone: str) -> None:
        message = _error_text(phone=phone)

        assert repr(phone) in message
        assert "E.164" in message

    @pytest.mark.parametrize("radius", [0, -10])
    def test_rejects_radius_not_positive(self, radius: int) -> None:
        message = _error_text(coverage_radius_m=radius)

        assert f"coverage_radius_m {radius}" in message
        assert "greater than 0" in message

    def test_rejects_radius_over_maximum(self) -> None:
        message = _error_text(coverage_radius_m=200_001)

        assert "coverage_radius_m 200001" in message

    @pytest.mark.parametrize("capacity", [0, -1])
    def test_rejects_capacity_below_one(self, capacity: int) -> None:
        message = _error_text(daily_capacity=capacity)

        assert f"daily_capacity {capacity}" in message

    @pytest.mark.parametrize("capacity", [1001, 2**31, 10**20])
    def test_rejects_capacity_over_maximum(self, capacity: int) -> None:
        message = _error_text(daily_capacity=capacity)

        assert f"daily_capacity {capacity}" in message
        assert "at most 1000" in message

    def test_rejects_nul_in_name(self) -> None:
        message = _error_text(name="Rosa\x00")

        assert "NUL" in message

    @pytest.mark.parametrize("field", ["lat", "lon"])
    @pytest.mark.parametrize("value", [float("nan"), float("inf")])
    def test_rejects_non_finite_coordinates(self, field: str, value: float) -> None:
        message = _error_text(**{field: value})

        assert field in message
        assert "finite number" in message

    def test_rejects_blank_name(self) -> None:
        message = _error_text(name="   ")

        assert "name must not be blank" in message

    def test_rejects_unknown_travel_mode(self) -> None:
        message = _error_text(travel_mode="helicopter")

        assert "helicopter" in message

    def test_rejects_latitude_out_of_range(self) -> None:
        message = _error_text(lat=91)

        assert "lat" in message

    def test_rejects_unknown_field(self) -> None:
        message = _error_text(radius=3000)

        assert "radius" in message
