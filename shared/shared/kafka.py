"""Kafka clients configured the way the reliability rules need them."""

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events.topics import ALL_TOPICS, dead_letter_topic
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

DEFAULT_PARTITIONS = 3


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """Build an idempotent producer that waits for acks from all in-sync replicas."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        client_id=f"campo-producer-{settings.kafka_topic_prefix or 'main'}",
    )


async def ensure_topics(
    settings: ServiceSettings, *, partitions: int = DEFAULT_PARTITIONS
) -> None:
    """Create every stream topic and its dead-letter topic when missing."""
    names = [settings.topic(t) for t in ALL_TOPICS]
    names += [dead_letter_topic(n) for n in names]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if not missing:
            return
        new_topics = [
            NewTopic(name=n, num_partitions=partitions, replication_factor=1)
            for n in missing
        ]
        try:
            await admin.create_topics(new_topics)
        except TopicAlreadyExistsError:
            # Another service created them between our list and create.
            pass
        log.info("kafka.topics_created", topics=missing)
    finally:
        await admin.close()
