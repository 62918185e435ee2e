from shared.body_limit import BodyLimitMiddleware

PHOTO = ("POST", "/agent/visits/{visit_id}/photos")


def middleware() -> BodyLimitMiddleware:
    async def app(scope, receive, send) -> None:  # pragma: no cover - never called
        return None

    return BodyLimitMiddleware(
        app, default_limit=100, route_limits={PHOTO: 5_000, ("POST", "/uploads"): 900}
    )


class TestLimitFor:
    def test_exact_path_gets_its_limit(self) -> None:
        assert middleware().limit_for("POST", "/uploads/") == 900

    def test_path_parameter_matches_one_segment(self) -> None:
        assert middleware().limit_for("POST", "/agent/visits/3f2a/photos") == 5_000

    def test_parameter_never_spans_segments(self) -> None:
        assert middleware().limit_for("POST", "/agent/visits/a/b/photos") == 100

    def test_other_method_gets_default(self) -> None:
        assert middleware().limit_for("GET", "/agent/visits/3f2a/photos") == 100
