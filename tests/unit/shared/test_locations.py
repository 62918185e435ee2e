import pytest

from shared.events.payloads import LocationPrecision
from shared.locations import is_improvable, uncertainty_radius_meters


class TestUncertaintyRadius:
    def test_coarser_precisions_have_larger_radii(self) -> None:
        radii = [
            uncertainty_radius_meters(precision)
            for precision in (
                LocationPrecision.ROOFTOP,
                LocationPrecision.STREET,
                LocationPrecision.POSTAL_CODE,
                LocationPrecision.LOCALITY,
                LocationPrecision.STATE,
            )
        ]
        assert radii == sorted(radii)

    def test_visit_radius_is_the_fix_accuracy(self) -> None:
        assert uncertainty_radius_meters(LocationPrecision.VISIT, 12.0) == 12.0

    def test_unknown_precision_has_no_radius(self) -> None:
        assert uncertainty_radius_meters(None) is None


class TestIsImprovable:
    @pytest.mark.parametrize(
        "precision",
        [
            LocationPrecision.STREET,
            LocationPrecision.POSTAL_CODE,
            LocationPrecision.LOCALITY,
            LocationPrecision.STATE,
        ],
    )
    def test_coarse_geocode_improved_by_an_accurate_fix(
        self, precision: LocationPrecision
    ) -> None:
        assert is_improvable(precision, accuracy_m=None, observed_accuracy_m=20.0)

    def test_rooftop_never_improved(self) -> None:
        assert not is_improvable(
            LocationPrecision.ROOFTOP, accuracy_m=None, observed_accuracy_m=1.0
        )

    def test_unknown_precision_left_alone(self) -> None:
        assert not is_improvable(None, accuracy_m=None, observed_accuracy_m=1.0)

    def test_earlier_visit_improved_only_by_a_finer_fix(self) -> None:
        assert is_improvable(
            LocationPrecision.VISIT, accuracy_m=40.0, observed_accuracy_m=10.0
        )
        assert not is_improvable(
            LocationPrecision.VISIT, accuracy_m=40.0, observed_accuracy_m=40.0
        )

    def test_fix_coarser_than_the_geocode_does_not_improve_it(self) -> None:
        assert not is_improvable(
            LocationPrecision.STREET, accuracy_m=None, observed_accuracy_m=600.0
        )
