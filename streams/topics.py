"""Every topic the stream processors read or write, declared in one place."""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TopicT

from flowcentre.config import Settings


@dataclass(frozen=True)
class FlowTopics:
    events: TopicT
    dead_letter: TopicT
    audit: TopicT


def declare_topics(app: faust.App, settings: Settings) -> FlowTopics:
    """Declare the topics on ``app``; creating them on the broker is ``ensure_topics``'s job.

    Keys and values stay raw bytes: decoding belongs to the event contract, so a message
    that does not decode reaches the agent and is dead-lettered instead of failing inside
    Faust's deserialiser.
    """
    return FlowTopics(
        events=app.topic(
            settings.events_topic,
            partitions=settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        ),
        dead_letter=app.topic(
            settings.dead_letter_topic,
            partitions=settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        ),
        audit=app.topic(
            settings.audit_topic,
            partitions=settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        ),
    )
