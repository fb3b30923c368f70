"""The access log followed into a directory, against the real broker."""

from __future__ import annotations

import asyncio

from kafka import KafkaProducer

from flowcentre.access_log import AccessLog
from flowcentre.config import Settings
from flowcentre.domain.access import load_policy
from flowcentre.runtime import ensure_topics
from tests.accounts import account, record
from tests.builders import role_revoked

DEADLINE_S = 10.0


POLICY = load_policy()


async def test_the_directory_follows_the_log_and_skips_what_is_not_an_access_event(
    settings: Settings,
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    plain = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    plain.send(settings.access_topic, key=b"x", value=b"not an event").get(timeout=30)
    plain.close()
    record(settings, account("a1", "nurse.one", "ward_staff", "W1"))
    log = AccessLog(settings.kafka_bootstrap, settings.access_topic)
    before = log.problem()
    await log.start()
    try:
        await log.wait_ready(DEADLINE_S)
        read = log.directory.principal("a1", POLICY)
        record(settings, [role_revoked("a1", "ward_staff", minute=5)])
        async with asyncio.timeout(DEADLINE_S):
            while True:
                revoked = log.directory.principal("a1", POLICY)
                if revoked is not None and not revoked.grants:
                    break
                await asyncio.sleep(0.05)
        after = log.problem()
    finally:
        await log.stop()

    assert before == "the access log has not been read yet"
    assert read is not None
    assert [held.role for held in read.grants] == ["ward_staff"]
    assert after is None
