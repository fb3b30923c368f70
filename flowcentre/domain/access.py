"""Who may do what, and where: roles, the permissions they carry, and the wards a grant covers.

What each role may do is configuration (``access.toml`` beside this module, or the file
``FLOWCENTRE_ACCESS_POLICY`` names); who holds which role is a fact on the access log,
folded by ``directory.py``. This module answers questions about the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from flowcentre.domain.configuration import load_toml
from flowcentre.domain.contract import Contract
from flowcentre.domain.events import Actor

DEFAULT_POLICY = Path(__file__).with_name("access.toml")


class Role(StrEnum):
    WARD_STAFF = "ward_staff"
    FLOW_CENTRE = "flow_centre"
    MANAGER = "manager"
    DISPLAY = "display"
    INTEGRATION = "integration"
    ADMINISTRATOR = "administrator"


class Permission(StrEnum):
    READ_CAPACITY = "capacity.read"
    """Counts of beds by state for the system, a site or a ward: no patient data."""

    READ_BOARD = "board.read"
    """A ward's beds as its board shows them, occupants' initials included."""

    READ_PATIENT = "patient.read"
    """Names, NHS numbers and dates of birth of the patients on a ward: each read audited."""

    SET_BED_STATUS = "bed.status.set"
    PLAN_DISCHARGE = "discharge.plan"
    """Discharge readiness, referrals, triage, tasks and reservations of community
    capacity for the patients on a ward; the discharge lists that show them."""
    READ_ALERTS = "alerts.read"
    """Capacity alerts, their history and the rules that raise them."""
    MANAGE_ALERTS = "alerts.manage"
    """Alert rules changed, and alerts acknowledged or resolved."""
    PUBLISH_EVENTS = "events.publish"
    MANAGE_ACCOUNTS = "accounts.manage"
    READ_AUDIT = "audit.read"
    """The audit trail of reads of patients' details, by patient and by reader."""


class Reach(StrEnum):
    """How far a grant of the role extends."""

    WARDS = "wards"
    """Only the wards named in the grant."""

    SYSTEM = "system"
    """Every ward of every organisation."""


class BoardDetail(StrEnum):
    """How much of a ward's beds a role's board shows."""

    FULL = "full"
    """What staff on the ward need: occupants' initials, sex, arrival, expected discharge."""

    WALL = "wall"
    """A screen anyone in the room can read: each bed, its state, and initials."""


class RolePolicy(Contract):
    description: Annotated[str, Field(min_length=1)]
    reach: Reach
    permissions: frozenset[Permission]
    board: BoardDetail = BoardDetail.FULL
    """The detail of the beds its board.read covers."""


class AccessPolicy(Contract):
    roles: dict[Role, RolePolicy]

    @model_validator(mode="after")
    def _every_role_defined(self) -> AccessPolicy:
        if missing := sorted(set(Role) - set(self.roles)):
            raise ValueError(f"the policy does not define the roles {', '.join(missing)}")
        return self


class PolicyInvalid(ValueError):
    """The access policy file cannot be read or does not describe every role."""


def load_policy(path: Path = DEFAULT_POLICY) -> AccessPolicy:
    return load_toml(path, AccessPolicy, PolicyInvalid)


class GrantRefused(ValueError):
    """A grant that cannot be given as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role
    wards: frozenset[str] | None
    """The wards the grant covers; None for a role whose reach is the whole system."""


def grant(policy: AccessPolicy, role: Role, wards: frozenset[str]) -> Grant:
    """The grant of ``role`` over ``wards``, checked against the role's reach."""
    reach = policy.roles[role].reach
    if reach is Reach.WARDS and not wards:
        raise GrantRefused(f"the {role} role covers named wards: name at least one")
    if reach is Reach.SYSTEM and wards:
        raise GrantRefused(f"the {role} role covers the whole system: it takes no wards")
    return Grant(role, wards if reach is Reach.WARDS else None)


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in person, device or system: who they are and what they were granted."""

    actor: Actor
    organisation_id: str
    grants: tuple[Grant, ...]

    def may(self, policy: AccessPolicy, permission: Permission, ward_id: str | None = None) -> bool:
        """Whether a grant carries ``permission``, over ``ward_id`` when one is named."""
        return any(
            permission in policy.roles[held.role].permissions
            and (ward_id is None or held.wards is None or ward_id in held.wards)
            for held in self.grants
        )

    def wards(self, policy: AccessPolicy, permission: Permission) -> frozenset[str] | None:
        """The wards over which a grant carries ``permission``: None for every ward."""
        covered: frozenset[str] = frozenset()
        for held in self.grants:
            if permission in policy.roles[held.role].permissions:
                if held.wards is None:
                    return None
                covered |= held.wards
        return covered
