from visits.app import create_app
from visits.settings import VisitsSettings


class TestPhotoLimitsInOpenApi:
    def test_limits_follow_settings(self) -> None:
        settings = VisitsSettings(photo_max_bytes=123_456, photo_types=["jpeg", "png"])
        document = create_app(settings).openapi()
        upload = document["paths"]["/agent/visits/{visit_id}/photos"]["post"]
        content = upload["requestBody"]["content"]
        assert set(content) == {"image/jpeg", "image/png", "application/octet-stream"}
        assert content["image/jpeg"]["schema"]["maxLength"] == 123_456
        assert upload["x-max-bytes"] == 123_456
        assert "123456 bytes" in upload["description"]

    def test_review_routes_declare_conflicts(self) -> None:
        paths = create_app(VisitsSettings()).openapi()["paths"]
        for path in ("/visits/{visit_id}/reject", "/visits/{visit_id}/appeal/resolve"):
            assert "409" in paths[path]["post"]["responses"]
        assert "409" in paths["/agent/visits/{visit_id}/appeal"]["post"]["responses"]
