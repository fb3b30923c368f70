"""Every read route the API documents, walked with each role and with roles over another
ward: each answers 403, or only what the role may see of the patient in bed B1."""

from __future__ import annotations

import re

import httpx
import pytest

from flowcentre.domain.access import Permission, Principal, Role
from tests.api_app import POLICY, app_over, signed_in
from tests.unit.conftest import RecordingPublisher

#: The ids of the picture in tests/api_app.py, for each path parameter.
PATH_VALUES = {
    "bed_id": "B1",
    "ward_id": "AVON4",
    "site_id": "WRH",
    "location_id": "bd.B1",
    "encounter_id": "S1",
    "spell_id": "S1",
    "alert_id": "occupancy-high@site:WRH@20261102T081600Z",
    "rule_id": "occupancy-high",
}
#: Routes that answer anyone, or only navigate (single sign-on), are not reads of data.
OPEN = re.compile(r"^/healthz$|^/api/v1/session")
QUERIES = {"/api/v1/audit/reads": "patient=P-S1", "/api/v1/audit/reads.csv": "patient=P-S1"}

ROLES = {
    "ward staff of AVON4": signed_in(Role.WARD_STAFF, "AVON4"),
    "ward staff of another ward": signed_in(Role.WARD_STAFF, "OTHER"),
    "flow centre": signed_in(Role.FLOW_CENTRE),
    "manager": signed_in(Role.MANAGER),
    "wall display of AVON4": signed_in(Role.DISPLAY, "AVON4"),
    "wall display of another ward": signed_in(Role.DISPLAY, "OTHER"),
    "integration": signed_in(Role.INTEGRATION),
    "administrator": signed_in(Role.ADMINISTRATOR),
}

NAMES = ("Lovelace", "Ada", "P-S1")
INITIALS = re.compile(r'"initials":\s*"AL"')


def reads() -> list[str]:
    document = app_over(RecordingPublisher(), signed_in(Role.MANAGER)).openapi()
    paths = []
    for path, operations in document["paths"].items():
        if "get" not in operations or OPEN.match(path):
            continue
        filled = re.sub(r"\{(\w+)\}", lambda match: PATH_VALUES[match[1]], path)
        query = QUERIES.get(path)
        paths.append(f"{filled}?{query}" if query else filled)
    return paths


@pytest.mark.parametrize("role", list(ROLES))
async def test_each_read_answers_403_or_only_what_the_role_may_see(role: str) -> None:
    principal: Principal = ROLES[role]
    names_allowed = principal.may(POLICY, Permission.READ_PATIENT, "AVON4")
    initials_allowed = principal.may(POLICY, Permission.READ_BOARD, "AVON4")
    app = app_over(RecordingPublisher(), principal)
    transport = httpx.ASGITransport(app=app)
    walked = reads()
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in walked:
            answer = await client.get(path)

            # A spell outside the account's wards is as good as absent to it: 404.
            assert answer.status_code in (200, 403, 404), f"{role}: {path} -> {answer.status_code}"
            if answer.status_code != 200:
                continue
            if not names_allowed:
                shown = [name for name in NAMES if name in answer.text]
                assert not shown, f"{role} was shown {shown} by {path}"
            if not initials_allowed:
                assert not INITIALS.search(answer.text), f"{role} was shown initials by {path}"
    assert len(walked) >= 10, walked
