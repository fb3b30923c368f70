"""``GET /healthz``: whether this process can reach the event log and the Redis view.

A load balancer takes an API process out of rotation on 503: without the log it cannot
accept a change, and without Redis it cannot show one.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import struct

from fastapi import APIRouter, Response, status
from redis.asyncio import Redis
from redis.exceptions import RedisError

from flowcentre.api.deps import AccessDep, RedisDep, SettingsDep
from flowcentre.api.models import Check, Health

router = APIRouter(tags=["health"])

TIMEOUT_S = 2.0

# Kafka ApiVersions request, version 0: every Kafka-protocol broker answers it, before any
# other request, without authentication.
_API_VERSIONS = 18
_CLIENT_ID = b"flowcentre-health"
_correlation = itertools.count(1)


def _servers(bootstrap: str) -> list[tuple[str, int]]:
    servers = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        servers.append((host.strip("[]"), int(port)))
    return servers


async def _ask_api_versions(host: str, port: int, tls: ssl.SSLContext | None) -> None:
    correlation_id = next(_correlation) & 0x7FFFFFFF
    request = struct.pack(">hhih", _API_VERSIONS, 0, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    reader, writer = await asyncio.open_connection(host, port, ssl=tls)
    try:
        writer.write(struct.pack(">i", len(request)) + request)
        await writer.drain()
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        answer = await reader.readexactly(size)
    finally:
        writer.close()
    answered_id, error_code = struct.unpack_from(">ih", answer)
    if answered_id != correlation_id:
        raise OSError(f"answered correlation id {answered_id}, not {correlation_id}")
    if error_code != 0:
        raise OSError(f"ApiVersions answered error code {error_code}")


async def _check_broker(bootstrap: str | None, tls: ssl.SSLContext | None) -> Check:
    if not bootstrap:
        return Check(ok=False, detail="no broker is configured (FLOWCENTRE_KAFKA_BOOTSTRAP)")
    problems = []
    for host, port in _servers(bootstrap):
        try:
            await asyncio.wait_for(_ask_api_versions(host, port, tls), TIMEOUT_S)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, struct.error) as error:
            problems.append(f"{host}:{port}: {error!r}")
        else:
            return Check(ok=True)
    return Check(ok=False, detail="; ".join(problems))


async def _check_redis(redis: Redis) -> Check:
    try:
        await asyncio.wait_for(redis.ping(), TIMEOUT_S)
    except (RedisError, OSError, TimeoutError) as error:
        return Check(ok=False, detail=repr(error))
    return Check(ok=True)


@router.get(
    "/healthz",
    response_model=Health,
    responses={
        503: {
            "model": Health,
            "description": "The broker or Redis does not answer, or the access log is not current.",
        }
    },
)
async def healthz(
    settings: SettingsDep, redis: RedisDep, access: AccessDep, response: Response
) -> Health:
    broker, view = await asyncio.gather(
        _check_broker(settings.kafka_bootstrap, settings.kafka_ssl_context()), _check_redis(redis)
    )
    # Without a current directory of accounts, no one's access can be checked.
    problem = access.log.problem()
    checks = {
        "broker": broker,
        "redis": view,
        "access_log": Check(ok=problem is None, detail=problem),
    }
    healthy = all(check.ok for check in checks.values())
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if healthy else "unavailable", checks=checks)
