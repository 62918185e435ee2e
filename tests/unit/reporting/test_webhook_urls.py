import ipaddress
import re
import socket

import pytest

from reporting.webhook_urls import (
    UnsafeWebhookURLError,
    check_webhook_url,
    forbidden_reason,
)


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def unresolvable(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


class TestForbiddenReason:
    @pytest.mark.parametrize(
        ("address", "reason"),
        [
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("fd12:3456::1", "private"),
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("169.254.10.10", "link-local"),
            ("fe80::1", "link-local"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("240.0.0.1", "reserved"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("169.254.169.254", "cloud metadata"),
            ("fd00:ec2::254", "cloud metadata"),
            ("100.64.0.1", "non-global"),
            ("::ffff:10.0.0.1", "private"),
            ("2002:a00:1::1", "private"),
            ("2002:a9fe:a9fe::1", "cloud metadata"),
            ("fec0::1", "deprecated internal"),
            ("192.88.99.1", "deprecated internal"),
        ],
    )
    def test_forbidden_classes(self, address: str, reason: str) -> None:
        parsed = ipaddress.ip_address(address)

        assert forbidden_reason(parsed, allow_loopback=False) == reason

    def test_public_address_allowed(self) -> None:
        assert (
            forbidden_reason(ipaddress.ip_address("8.8.8.8"), allow_loopback=False)
            is None
        )

    @pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
    def test_loopback_allowed_with_setting(self, address: str) -> None:
        parsed = ipaddress.ip_address(address)

        assert forbidden_reason(parsed, allow_loopback=True) is None

    @pytest.mark.parametrize(
        "address", ["169.254.169.254", "fd00:ec2::254", "10.0.0.1", "fe80::1"]
    )
    def test_loopback_setting_keeps_others_forbidden(self, address: str) -> None:
        parsed = ipaddress.ip_address(address)

        assert forbidden_reason(parsed, allow_loopback=True) is not None


class TestCheckWebhookURL:
    async def test_public_https_passes(self) -> None:
        checked = await check_webhook_url(
            "https://hooks.example.com/campo?x=1",
            allow_loopback=False,
            require_https=True,
            resolve=resolver("93.184.215.14"),
        )

        assert str(checked.address) == "93.184.215.14"
        assert checked.pinned_url() == "https://93.184.215.14:443/campo?x=1"
        assert checked.host_header() == "hooks.example.com"

    async def test_any_private_answer_rejects(self) -> None:
        with pytest.raises(
            UnsafeWebhookURLError, match=re.escape("10.1.2.3, a private")
        ):
            await check_webhook_url(
                "https://rebind.example.com/hook",
                allow_loopback=False,
                require_https=False,
                resolve=resolver("93.184.215.14", "10.1.2.3"),
            )

    async def test_unspecified_address_named_with_an(self) -> None:
        with pytest.raises(
            UnsafeWebhookURLError, match=re.escape("0.0.0.0, an unspecified address")
        ):
            await check_webhook_url(
                "http://0.0.0.0:9/h", allow_loopback=False, require_https=False
            )

    async def test_metadata_rejected_with_loopback(self) -> None:
        with pytest.raises(UnsafeWebhookURLError, match=re.escape("169.254.169.254")):
            await check_webhook_url(
                "http://169.254.169.254/latest/meta-data",
                allow_loopback=True,
                require_https=False,
            )

    async def test_localhost_rejected_by_default(self) -> None:
        with pytest.raises(UnsafeWebhookURLError, match="loopback"):
            await check_webhook_url(
                "http://localhost:8080/hook", allow_loopback=False, require_https=False
            )

    async def test_localhost_allowed_with_setting(self) -> None:
        checked = await check_webhook_url(
            "http://localhost:8080/hook", allow_loopback=True, require_https=True
        )

        assert checked.address.is_loopback
        assert checked.host_header() == "localhost:8080"

    async def test_ipv6_literal_pinned_with_brackets(self) -> None:
        checked = await check_webhook_url(
            "http://[::1]:8080/hook", allow_loopback=True, require_https=False
        )

        assert checked.pinned_url() == "http://[::1]:8080/hook"
        assert checked.host_header() == "[::1]:8080"

    @pytest.mark.parametrize(
        "url", ["ftp://example.com/hook", "file:///etc/passwd", "example.com/hook"]
    )
    async def test_other_schemes_rejected(self, url: str) -> None:
        with pytest.raises(UnsafeWebhookURLError, match="http or https"):
            await check_webhook_url(
                url, allow_loopback=False, require_https=False, resolve=resolver()
            )

    async def test_http_rejected_when_https_required(self) -> None:
        with pytest.raises(UnsafeWebhookURLError, match="must use https"):
            await check_webhook_url(
                "http://hooks.example.com/",
                allow_loopback=False,
                require_https=True,
                resolve=resolver("93.184.215.14"),
            )

    async def test_http_public_rejected_even_with_loopback(self) -> None:
        with pytest.raises(UnsafeWebhookURLError, match="must use https"):
            await check_webhook_url(
                "http://hooks.example.com/",
                allow_loopback=True,
                require_https=True,
                resolve=resolver("93.184.215.14"),
            )

    async def test_http_loopback_passes_with_setting(self) -> None:
        checked = await check_webhook_url(
            "http://127.0.0.1:8080/hook", allow_loopback=True, require_https=True
        )

        assert checked.scheme == "http"

    async def test_credentials_rejected(self) -> None:
        with pytest.raises(UnsafeWebhookURLError, match="credentials"):
            await check_webhook_url(
                "https://user:pass@hooks.example.com/",
                allow_loopback=False,
                require_https=True,
                resolve=resolver("93.184.215.14"),
            )

    async def test_unresolvable_host_rejected(self) -> None:
        with pytest.raises(UnsafeWebhookURLError, match="could not be resolved"):
            await check_webhook_url(
                "https://nowhere.invalid/",
                allow_loopback=False,
                require_https=True,
                resolve=unresolvable,
            )

    async def test_invalid_port_rejected(self) -> None:
        with pytest.raises(UnsafeWebhookURLError, match="invalid port"):
            await check_webhook_url(
                "https://hooks.example.com:99999/",
                allow_loopback=False,
                require_https=True,
                resolve=resolver("93.184.215.14"),
            )
