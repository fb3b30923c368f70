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
        events=_raw(app, settings.events_topic, settings.topic_partitions),
        dead_letter=_raw(app, settings.dead_letter_topic, settings.topic_partitions),
        audit=_raw(app, settings.audit_topic, settings.topic_partitions),
    )


def _raw(app: faust.App, name: str, partitions: int) -> TopicT:
    return app.topic(
        name,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
