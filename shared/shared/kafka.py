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


async def delete_topics(bootstrap_servers: str, prefix: str) -> None:
    """Delete every topic whose name starts with `prefix`.

    Each test session and benchmark run makes a set of topics of its own.
    Left behind, they pile up on a developer's broker until it runs out of
    file descriptors, and every client's metadata requests grow with them.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
