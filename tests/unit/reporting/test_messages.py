import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from reporting.attempts import signed_headers
from reporting.fanout import webhook_body, webhook_msg_id
from reporting.notifier import CommitNotifier
from reporting.service import rate
from reporting.webhooks import new_secret
from shared.events import Envelope


class TestRate:
    def test_zero_denominator_none(self) -> None:
        assert rate(0, 0) is None

    def test_share(self) -> None:
        assert rate(1, 4) == 0.25


class TestSignedHeaders:
    def test_library_verifies(self) -> None:
        secret = new_secret()
        body = '{"type":"visit.completed","data":{"a":1}}'
        headers = signed_headers([secret], "msg_abc", body, datetime.now(UTC))

        assert Webhook(secret).verify(body, headers) == json.loads(body)

    def test_other_secret_fails(self) -> None:
        body = "{}"
        headers = signed_headers([new_secret()], "msg_abc", body, datetime.now(UTC))

        with pytest.raises(WebhookVerificationError):
            Webhook(new_secret()).verify(body, headers)

    def test_two_secrets_each_verify(self) -> None:
        old, new = new_secret(), new_secret()
        body = '{"type":"visit.completed"}'
        headers = signed_headers([new, old], "msg_abc", body, datetime.now(UTC))

        assert len(headers["webhook-signature"].split(" ")) == 2
        assert Webhook(old).verify(body, headers) == json.loads(body)
        assert Webhook(new).verify(body, headers) == json.loads(body)

    def test_timestamp_whole_seconds(self) -> None:
        now = datetime(2026, 1, 2, 3, 4, 5, 999000, tzinfo=UTC)

        headers = signed_headers([new_secret()], "msg_abc", "{}", now)

        assert headers["webhook-timestamp"] == str(int(now.timestamp()))


class TestWebhookBody:
    def test_standard_webhooks_shape(self) -> None:
        event_id = uuid.uuid4()
        envelope = Envelope(
            id=event_id,
            type="campo.visit.completed",
            source="/visits",
            subject="v",
            time=datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
            tenant_id=uuid.uuid4(),
            data={"visit_id": "v"},
        )

        body = json.loads(webhook_body("visit.completed", envelope))

        assert webhook_msg_id(event_id) == "msg_" + event_id.hex
        assert body == {
            "type": "visit.completed",
            "timestamp": "2026-05-01T12:00:00+00:00",
            "data": {"visit_id": "v"},
        }


class TestCommitNotifier:
    async def test_waiter_taken_before_notify_wakes(self) -> None:
        notifier = CommitNotifier()
        waiter = notifier.current()

        notifier.notify()

        await asyncio.wait_for(waiter.wait(), 1)
        assert not notifier.current().is_set()

    async def test_listeners_called(self) -> None:
        notifier = CommitNotifier()
        calls: list[int] = []
        notifier.add_listener(lambda: calls.append(1))

        notifier.notify()

        assert calls == [1]
