"""Fixtures shared by the whole suite.

The broker and Redis are the real embedded servers, started once per test run; tests
keep out of each other's way through topics of their own and a flushed database.
"""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from flowcentre.config import Settings
from flowcentre.runtime import EmbeddedBroker, EmbeddedRedis


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        type=Path,
        help="keep the browser tests' pictures of the boards in DIR (docs/images: the docs')",
    )


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap address of an embedded Kafka-protocol broker shared by the test run."""
    with EmbeddedBroker() as embedded:
        yield embedded.bootstrap


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """URL of an embedded Redis-protocol server shared by the test run."""
    with EmbeddedRedis() as embedded:
        yield embedded.url


@pytest_asyncio.fixture
async def redis_client(redis_server: str) -> AsyncIterator[Redis]:
    """A client of the shared server, whose database is emptied before the test.

    Replies are bytes, as the server sends them.
    """
    client = Redis.from_url(redis_server)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def settings(
    broker: str, redis_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings pointing at the shared servers, with topics and worker state of this test's own.

    ``FLOWCENTRE_*`` variables of the calling shell are removed so that they cannot change
    what a test sees.
    """
    for name in os.environ:
        if name.startswith("FLOWCENTRE_"):
            monkeypatch.delenv(name)
    unique = uuid.uuid4().hex[:12]
    return Settings(
        kafka_bootstrap=broker,
        redis_url=redis_server,
        events_topic=f"test-{unique}.events",
        dead_letter_topic=f"test-{unique}.events.dead-letter",
        access_topic=f"test-{unique}.access",
        audit_topic=f"test-{unique}.audit",
        hl7_topic=f"test-{unique}.hl7",
        worker_data_dir=tmp_path / "worker",
    )
