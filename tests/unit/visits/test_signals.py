from datetime import UTC, datetime, timedelta

import pytest

from visits.settings import VisitsSettings
from visits.signals import Evidence, Fix, PhotoEvidence, PreviousFix, assess

NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
DOOR = (19.4326, -99.1332)
SETTINGS = VisitsSettings()


def fix(**overrides: object) -> Fix:
    values: dict[str, object] = {
        "lat": DOOR[0],
        "lon": DOOR[1],
        "distance_m": 20.0,
        "accuracy_m": 12.0,
        "mock_location": False,
        "device_time": NOW - timedelta(minutes=10),
        "server_time": NOW - timedelta(minutes=10),
    }
    values.update(overrides)
    return Fix(**values)  # type: ignore[arg-type]


def honest(**overrides: object) -> Evidence:
    values: dict[str, object] = {
        "fixes": [fix()],
        "result_device_time": NOW,
        "result_server_time": NOW,
        "previous": PreviousFix(
            lat=19.4426, lon=-99.1332, device_time=NOW - timedelta(minutes=40)
        ),
        "photos": [
            PhotoEvidence(
                taken_at=NOW - timedelta(minutes=8),
                lat=DOOR[0],
                lon=DOOR[1],
                other_visits=0,
            )
        ],
    }
    values.update(overrides)
    return Evidence(**values)  # type: ignore[arg-type]


def fired(evidence: Evidence) -> set[str]:
    return {s.name for s in assess(evidence, SETTINGS).signals if s.fired}


class TestHonestVisit:
    def test_no_signal_fires_and_score_is_zero(self) -> None:
        assessment = assess(honest(), SETTINGS)
        assert fired(honest()) == set()
        assert assessment.score == 0
        assert assessment.flagged is False

    def test_every_signal_reports_threshold_and_weight(self) -> None:
        for signal in assess(honest(), SETTINGS).signals:
            described = signal.as_dict()
            assert described["threshold"] == signal.threshold
            assert 0 < described["weight"] <= 1


class TestEachSignal:
    @pytest.mark.parametrize(
        ("name", "evidence"),
        [
            ("distance_from_address", honest(fixes=[fix(distance_m=2_400)])),
            ("gps_accuracy", honest(fixes=[fix(accuracy_m=1_600)])),
            (
                "time_on_site",
                honest(fixes=[fix(device_time=NOW - timedelta(seconds=30))]),
            ),
            (
                "travel_speed",
                honest(
                    previous=PreviousFix(
                        lat=20.6597,
                        lon=-103.3496,
                        device_time=NOW - timedelta(minutes=30),
                    )
                ),
            ),
            ("mock_location", honest(fixes=[fix(mock_location=True)])),
            (
                "reused_photo",
                honest(photos=[PhotoEvidence(None, None, None, other_visits=1)]),
            ),
            (
                "device_clock_gap",
                honest(
                    result_device_time=NOW - timedelta(hours=2),
                    fixes=[fix(device_time=NOW - timedelta(hours=2, minutes=10))],
                ),
            ),
            (
                "photo_time_gap",
                honest(photos=[PhotoEvidence(NOW - timedelta(days=3), None, None, 0)]),
            ),
            (
                "photo_distance",
                honest(photos=[PhotoEvidence(None, 19.50, -99.20, 0)]),
            ),
        ],
    )
    def test_signal_fires_past_its_threshold(
        self, name: str, evidence: Evidence
    ) -> None:
        assert name in fired(evidence)

    def test_short_hop_between_visits_is_no_speed_signal(self) -> None:
        # 1.1 km in 30 minutes: about 2 km/h.
        assert "travel_speed" not in fired(honest())

    def test_two_places_at_once_fires_speed(self) -> None:
        previous = PreviousFix(
            lat=19.45, lon=-99.13, device_time=NOW - timedelta(minutes=10)
        )
        assert "travel_speed" in fired(honest(previous=previous))

    def test_missing_evidence_never_fires(self) -> None:
        evidence = honest(previous=None, photos=[])
        assessment = assess(evidence, SETTINGS)
        by_name = {s.name: s for s in assessment.signals}
        assert by_name["travel_speed"].value is None
        assert by_name["photo_distance"].value is None
        assert not by_name["travel_speed"].fired


class TestScore:
    def test_faked_visit_is_flagged(self) -> None:
        faked = honest(
            fixes=[
                fix(
                    distance_m=3_000,
                    mock_location=True,
                    device_time=NOW - timedelta(seconds=20),
                )
            ],
            photos=[PhotoEvidence(None, None, None, other_visits=2)],
        )
        assessment = assess(faked, SETTINGS)
        assert assessment.score == 1.0
        assert assessment.flagged is True

    def test_one_light_signal_does_not_flag(self) -> None:
        evidence = honest(fixes=[fix(accuracy_m=900)])
        assessment = assess(evidence, SETTINGS)
        assert assessment.score == pytest.approx(0.1)
        assert assessment.flagged is False

    def test_weights_come_from_settings(self) -> None:
        settings = VisitsSettings(signal_weights={"gps_accuracy": 0.9})
        evidence = honest(fixes=[fix(accuracy_m=900)])
        assert assess(evidence, settings).flagged is True

    def test_thresholds_come_from_settings(self) -> None:
        settings = VisitsSettings(signal_min_seconds_on_site=1_000)
        assert "time_on_site" in {
            s.name for s in assess(honest(), settings).signals if s.fired
        }


class TestCoarseGeocode:
    def test_distance_within_the_geocode_radius_does_not_fire(self) -> None:
        evidence = honest(fixes=[fix(distance_m=2_400)], address_radius_m=2_500.0)

        [distance] = [
            s
            for s in assess(evidence, SETTINGS).signals
            if s.name == "distance_from_address"
        ]

        assert distance.threshold == 2_500.0
        assert not distance.fired

    def test_distance_beyond_the_geocode_radius_fires(self) -> None:
        evidence = honest(fixes=[fix(distance_m=2_600)], address_radius_m=2_500.0)
        assert "distance_from_address" in fired(evidence)

    def test_other_signals_still_fire(self) -> None:
        evidence = honest(
            fixes=[fix(distance_m=2_400, mock_location=True)],
            address_radius_m=2_500.0,
        )
        assert fired(evidence) == {"mock_location"}

    def test_precise_geocode_keeps_the_distance_limit(self) -> None:
        evidence = honest(fixes=[fix(distance_m=400)], address_radius_m=30.0)
        assert "distance_from_address" in fired(evidence)
