from shared.events.envelope import Envelope
from shared.events.payloads import Payload

__all__ = ["Envelope", "Payload"]
