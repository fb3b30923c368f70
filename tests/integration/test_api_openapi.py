"""Requests generated from the API's OpenAPI document, over whatever operations it holds.

Whoever asks, no request is answered with a server error; and without signing in, every
operation but the public ones answers 401. The app is the one the unit tests use, over
beds in memory, but its lifespan runs against the real broker and Redis: health, signing
in and the session check answer as in service, so a 5xx is a defect, not a missing server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from redis import Redis
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.schemas import APIOperation, BaseSchema

from flowcentre.config import Settings
from flowcentre.domain.access import Principal, Role
from flowcentre.runtime import ensure_topics
from tests.api_app import app_over, signed_in
from tests.unit.conftest import RecordingPublisher

Operation: TypeAlias = APIOperation[Any, Any, Any, Any]
Case: TypeAlias = schemathesis.Case[Any]

ROLES: dict[str, Principal] = {
    "ward_staff": signed_in(Role.WARD_STAFF, "AVON4"),
    "flow_centre": signed_in(Role.FLOW_CENTRE),
    "manager": signed_in(Role.MANAGER),
    "display": signed_in(Role.DISPLAY, "AVON4"),
    "integration": signed_in(Role.INTEGRATION),
    "administrator": signed_in(Role.ADMINISTRATOR),
}

#: Answer anyone: health for load balancers, and the session routes that sign in and out.
PUBLIC = re.compile(r"^/healthz$|^/api/v1/session(/|$)")

#: Until the access log is read, health and every session check answer 503.
READY_S = 20.0

FUZZED = hypothesis.settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    # Explaining a failure reruns it many times and reports lines of requests and starlette.
    phases=[phase for phase in hypothesis.Phase if phase is not hypothesis.Phase.explain],
)


def served(settings: Settings, principal: Principal | None) -> Iterator[BaseSchema]:
    """The app's document, with its lifespan started and the access log read."""
    assert settings.kafka_bootstrap
    assert settings.redis_url
    ensure_topics(settings.kafka_bootstrap, settings)
    with Redis.from_url(settings.redis_url) as redis:
        # Sign-in attempts other tests counted would turn this one's into 429s.
        redis.flushdb()
    app = app_over(RecordingPublisher(), principal, settings)
    try:
        # Loading the document starts the lifespan, which serves every request after it.
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        health = schema["/healthz"]["GET"].Case()
        deadline = time.monotonic() + READY_S
        while (answer := health.call()).status_code != 200:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.1)
        yield schema
    finally:
        shutdown_lifespans()


def operations(schema: BaseSchema) -> list[Operation]:
    found = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()
        found.append(result.ok())
    assert found, "the document holds no operation"
    return found


def fuzz(operation: Operation, check: Callable[[Case], object]) -> None:
    """``check`` over requests that fit the operation's document and requests that do not."""
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @FUZZED
    @hypothesis.given(case=cases)
    def run(case: Case) -> None:
        check(case)

    run()


def no_server_error(case: Case) -> schemathesis.Response:
    return case.call_and_validate(checks=[not_a_server_error])


def unreadable_body(response: schemathesis.Response) -> bool:
    """Whether FastAPI refused the body as neither JSON nor text, before any route code."""
    if response.status_code == 400:
        return bool(response.json() == {"detail": "There was an error parsing the body"})
    if response.status_code == 422:
        return all(problem["type"] == "json_invalid" for problem in response.json()["detail"])
    return False


def refused_unless_public(case: Case) -> None:
    response = no_server_error(case)
    if PUBLIC.match(case.operation.path):
        return
    # FastAPI parses a JSON body before it runs any dependency, so a body that cannot be
    # parsed is refused before the session is looked for, and no route code runs.
    if unreadable_body(response):
        return
    assert response.status_code == 401, f"{response.status_code}: {case.as_curl_command()}"


@pytest.fixture(params=list(ROLES))
def as_role(request: pytest.FixtureRequest, settings: Settings) -> Iterator[BaseSchema]:
    yield from served(settings, ROLES[request.param])


@pytest.fixture
def anonymous(settings: Settings) -> Iterator[BaseSchema]:
    yield from served(settings, None)


def test_no_request_gets_a_server_error(as_role: BaseSchema, subtests: pytest.Subtests) -> None:
    for operation in operations(as_role):
        with subtests.test(operation.label):
            fuzz(operation, no_server_error)


def test_without_signing_in_only_health_and_the_session_routes_answer(
    anonymous: BaseSchema, subtests: pytest.Subtests
) -> None:
    found = operations(anonymous)
    assert any(not PUBLIC.match(operation.path) for operation in found)
    for operation in found:
        with subtests.test(operation.label):
            fuzz(operation, refused_unless_public)
