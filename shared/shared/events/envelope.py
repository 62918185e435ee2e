"""CloudEvents 1.0 envelopes carried in Kafka binary content mode.

Attributes travel as `ce_*` headers and the payload as the JSON value, per
the CloudEvents Kafka protocol binding; the SDK does the mapping.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared.events.payloads import PAYLOAD_TYPES, Payload

TENANT_EXTENSION = "tenantid"
_FORMAT = JSONFormat()


class UnknownEventTypeError(ValueError):
    pass


@dataclass(frozen=True)
class Envelope:
    """One event as the services handle it: CloudEvents attributes plus payload."""

    id: UUID
    type: str
    source: str
    subject: str
    time: datetime
    tenant_id: UUID
    data: dict[str, Any]

    @classmethod
    def wrap(cls, payload: Payload, *, source: str) -> "Envelope":
        return cls(
            id=uuid4(),
            type=payload.event_type,
            source=source,
            subject=payload.aggregate_id(),
            time=datetime.now(UTC),
            tenant_id=payload.tenant_id,
            data=payload.model_dump(mode="json"),
        )

    def payload(self) -> Payload:
        """Parse `data` into the payload model registered for `type`."""
        model = PAYLOAD_TYPES.get(self.type)
        if model is None:
            raise UnknownEventTypeError(
                f"no payload model for event type {self.type!r}"
            )
        return model.model_validate(self.data)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "tenant_id": str(self.tenant_id),
            "data": self.data,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "Envelope":
        return cls(
            id=UUID(value["id"]),
            type=value["type"],
            source=value["source"],
            subject=value["subject"],
            time=datetime.fromisoformat(value["time"]),
            tenant_id=UUID(value["tenant_id"]),
            data=value["data"],
        )

    def to_kafka(self) -> ce_kafka.KafkaMessage:
        event = CloudEvent(
            attributes={
                "id": str(self.id),
                "source": self.source,
                "type": self.type,
                "specversion": "1.0",
                "subject": self.subject,
                "time": self.time,
                "datacontenttype": "application/json",
                TENANT_EXTENSION: str(self.tenant_id),
            },
            data=self.data,
        )
        return ce_kafka.to_binary(event, _FORMAT, key_mapper=lambda _: self.subject)

    @classmethod
    def from_kafka(
        cls, *, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> "Envelope":
        """Decode a binary-mode record; raise ValueError when it is no CloudEvent."""
        message = ce_kafka.KafkaMessage(headers=dict(headers), key=key, value=value)
        event = ce_kafka.from_binary(message, _FORMAT)
        data = event.get_data()
        if isinstance(data, bytes | str):
            data = json.loads(data)
        if not isinstance(data, dict):
            raise ValueError("event data is not a JSON object")
        time = event.get_time() or datetime.now(UTC)
        tenant = event.get_extension(TENANT_EXTENSION)
        if tenant is None:
            raise ValueError(
                f"event {event.get_id()} has no {TENANT_EXTENSION} extension"
            )
        return cls(
            id=UUID(event.get_id()),
            type=event.get_type(),
            source=event.get_source(),
            subject=event.get_subject() or "",
            time=time,
            tenant_id=UUID(str(tenant)),
            data=data,
        )
