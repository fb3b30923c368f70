"""What whiteboards and the read API show: the least data each view needs.

A board sees a bed, the occupant's initials and the bed's state; full names, dates of
birth and NHS numbers stay in the spell record and never reach a board view.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flowcentre.domain.access import AccessPolicy, BoardDetail, Permission, Principal
from flowcentre.domain.beds import BedState
from flowcentre.domain.events import SiteRegistered, WardRegistered
from flowcentre.domain.model import Bed, Stamp

JSON = dict[str, Any]


def _stamp(stamp: Stamp | None) -> JSON | None:
    if stamp is None:
        return None
    # Who caused it, by kind and id: the record keeps the name, boards do not need it.
    return {"at": stamp.at.isoformat(), "by": {"kind": stamp.by.kind.value, "id": stamp.by.id}}


def bed_view(bed: Bed) -> JSON:
    details = bed.details
    return {
        "bed_id": bed.bed_id,
        "ward_id": bed.ward_id,
        "label": details.label if details else bed.bed_id,
        "room": details.room if details else None,
        "side_room": details.side_room if details else False,
        "escalation": details.escalation if details else False,
        "registered": bed.registered,
        "state": bed.state.value,
        "hl7_status": bed.state.hl7_code,
        "status": bed.status.status.value if bed.status else None,
        "status_reason": bed.status.reason if bed.status else None,
        "since": _stamp(bed.since),
        "conflict": bed.conflict,
        "occupants": [
            {
                # For the audit of who was shown whom; no board is sent it.
                "spell_id": occupant.spell_id,
                "initials": occupant.initials,
                "sex": occupant.sex.value,
                "arrived_at": occupant.arrived.at.isoformat(),
                "admitted_at": occupant.admitted_at.isoformat() if occupant.admitted_at else None,
                "expected_discharge_date": (
                    occupant.expected_discharge_date.isoformat()
                    if occupant.expected_discharge_date
                    else None
                ),
                "on_leave": occupant.on_leave,
                "sharing_objection": occupant.sharing_objection,
            }
            for occupant in bed.occupants
        ],
    }


def bed_counts(beds: Iterable[Bed]) -> JSON:
    """Counts by state over registered beds, with the headline numbers a board leads with."""
    states = Counter(bed.state for bed in beds if bed.registered)
    total = sum(states.values())
    closed = states[BedState.CLOSED] + states[BedState.BLOCKED]
    open_beds = total - closed
    occupied = states[BedState.OCCUPIED]
    return {
        "total": total,
        "occupied": occupied,
        "available": states[BedState.AVAILABLE],
        "closed": closed,
        "open": open_beds,
        "occupancy_pct": round(100 * occupied / open_beds, 1) if open_beds else None,
        "by_state": {state.value: states[state] for state in BedState},
    }


def ward_view(ward: WardRegistered) -> JSON:
    payload = ward.payload
    return {
        "ward_id": payload.ward_id,
        "site_id": payload.site_id,
        "name": payload.name,
        "specialty": payload.specialty,
        "sex": payload.sex.value,
    }


def site_view(site: SiteRegistered) -> JSON:
    payload = site.payload
    return {
        "site_id": payload.site_id,
        "organisation_id": payload.organisation_id,
        "name": payload.name,
        "kind": payload.kind.value,
    }


def _unnamed(occupant: JSON) -> JSON:
    """The occupant without the spell id: boards know patients by bed and initials."""
    return {key: value for key, value in occupant.items() if key != "spell_id"}


def _shared(occupant: JSON) -> JSON:
    """The occupant as staff of another organisation may see them."""
    if not occupant["sharing_objection"]:
        return occupant
    return {**occupant, "initials": None}


RECENT_DISCHARGES = timedelta(hours=36)
"""How far back, from the latest discharge, a snapshot's discharge plans reach beyond the
patients in hospital: enough for a board to count today's discharges wherever it is."""

#: Deltas every board is sent: the registry above wards, the clock on the log, the
#: rebuild's instruction, and the source feeds (a feed's name and whether it is silent,
#: nothing of a patient), since any board may show beds a silent feed would change.
EVERY_BOARD = frozenset({"organisation", "site", "clock", "resnapshot", "feed"})


def _opel_level(opel: JSON) -> JSON:
    """A place's OPEL as every board shows it: the level, and since when."""
    return {key: opel[key] for key in ("place", "level", "since")}


def _alert_counted(alert: JSON) -> JSON:
    """An alert as a board that only counts open alerts needs it: its id, which names
    the rule and the place in trouble, turned into a token that only tells it apart."""
    token = hashlib.sha256(alert["alert_id"].encode()).hexdigest()[:16]
    return {"alert_id": token, "status": alert["status"], "severity": alert["severity"]}


_LEFT_HOSPITAL = (
    "spell_id",
    "listed",
    "ward_id",
    "discharged_at",
    "expected_discharge_date",
    "destination",
)


@dataclass(frozen=True, slots=True)
class BoardScope:
    """What one board may be sent of the live picture, from its principal's grants.

    Beds of ``full_wards`` come whole (``None``: every ward). Beds of ``wall_wards`` come as
    a wall screen shows them: the bed, its state and the occupants' initials. With
    ``capacity``, every other bed comes too, without its occupants or who changed it: its
    state counts towards capacity and tells nothing about a patient. Sites and
    organisations are sent to every board; a ward's record to a board sent its beds.

    ``home_wards`` are the wards run by the principal's own organisation (``None``: every
    ward). Elsewhere, the initials of a patient who objects to sharing are withheld.

    Discharge plans of ``plan_wards`` come too: the wards whose plans the principal may
    work on, and so see on the discharge lists.

    With ``alerts``, alerts come whole, with the rules that raise them, and OPEL with the
    parameters and readings behind it; every other board is sent a token for each alert
    with its status and severity, enough to count those open, and each place's OPEL
    level alone.
    """

    full_wards: frozenset[str] | None
    capacity: bool
    wall_wards: frozenset[str] | None = frozenset()
    home_wards: frozenset[str] | None = frozenset()
    plan_wards: frozenset[str] | None = frozenset()
    alerts: bool = False

    @classmethod
    def of(
        cls, principal: Principal, policy: AccessPolicy, home_wards: frozenset[str] | None
    ) -> BoardScope | None:
        """The principal's scope, or None if it may see no board at all."""
        reach: dict[BoardDetail, frozenset[str] | None] = dict.fromkeys(BoardDetail, frozenset())
        for held in principal.grants:
            role = policy.roles[held.role]
            if Permission.READ_BOARD in role.permissions:
                wards = reach[role.board]
                reach[role.board] = (
                    None if held.wards is None or wards is None else wards | held.wards
                )
        capacity = principal.may(policy, Permission.READ_CAPACITY)
        full, wall = reach[BoardDetail.FULL], reach[BoardDetail.WALL]
        plans = principal.wards(policy, Permission.PLAN_DISCHARGE)
        if not capacity and full == frozenset() and wall == frozenset() and plans == frozenset():
            return None
        return cls(
            full, capacity, wall, home_wards, plans, principal.may(policy, Permission.READ_ALERTS)
        )

    @staticmethod
    def _covers(wards: frozenset[str] | None, ward_id: str) -> bool:
        return wards is None or ward_id in wards

    def bed(self, bed: JSON) -> JSON | None:
        ward_id = bed["ward_id"]
        home = self._covers(self.home_wards, ward_id)
        if self._covers(self.full_wards, ward_id):
            if not bed["occupants"]:
                return bed
            return {
                **bed,
                "occupants": [_unnamed(one if home else _shared(one)) for one in bed["occupants"]],
            }
        since = bed["since"]
        anonymous = {"at": since["at"]} if since else None
        if self._covers(self.wall_wards, ward_id):
            occupants = [
                {"initials": one["initials"] if home else _shared(one)["initials"]}
                for one in bed["occupants"]
            ]
            return {**bed, "since": anonymous, "status_reason": None, "occupants": occupants}
        if self.capacity:
            # The status says why a bed is out of use; its free-text reason may name more.
            return {**bed, "since": anonymous, "status_reason": None, "occupants": []}
        return None

    def discharge(self, item: JSON) -> JSON | None:
        """A patient's discharge plan, to boards of those who may plan it: the spell id is
        sent, for the ward and the flow centre to act on the plan. Of a patient no longer
        in hospital, only what counts the day's discharges against their expected dates."""
        ward_id = item["ward_id"]
        if ward_id is None or not self._covers(self.plan_wards, ward_id):
            return None
        if not item["listed"]:
            return {key: item.get(key) for key in _LEFT_HOSPITAL}
        if item["sharing_objection"] and not self._covers(self.home_wards, ward_id):
            return {**item, "initials": None}
        return item

    def spells(self, beds: Iterable[JSON], discharges: Iterable[JSON] = ()) -> frozenset[str]:
        """The spells whose patients the scope is shown (their initials, or that they
        are withheld): what the audit of a board's reads names."""
        in_beds = {
            one["spell_id"]
            for bed in beds
            if self._covers(self.full_wards, bed["ward_id"])
            or self._covers(self.wall_wards, bed["ward_id"])
            for one in bed["occupants"]
            if "spell_id" in one
        }
        planned = {
            item["spell_id"]
            for item in discharges
            if item["listed"] and self.discharge(item) is not None
        }
        return frozenset(in_beds | planned)

    def ward(self, ward: JSON) -> JSON | None:
        ward_id = ward["ward_id"]
        shown = self.capacity or self._covers(self.full_wards, ward_id)
        return ward if shown or self._covers(self.wall_wards, ward_id) else None

    def deltas(self, deltas: list[JSON]) -> list[JSON]:
        shown: list[JSON] = []
        for delta in deltas:
            kind = delta.get("kind")
            if kind == "bed":
                if (bed := self.bed(delta["bed"])) is not None:
                    shown.append({"kind": "bed", "bed": bed})
            elif kind == "ward":
                if (ward := self.ward(delta["ward"])) is not None:
                    shown.append({"kind": "ward", "ward": ward})
            elif kind == "discharge":
                if (item := self.discharge(delta["discharge"])) is not None:
                    shown.append({"kind": "discharge", "discharge": item})
            elif kind == "capacity":
                if self.capacity:
                    shown.append(delta)
            elif kind == "alert":
                alert = delta["alert"] if self.alerts else _alert_counted(delta["alert"])
                shown.append({"kind": "alert", "alert": alert})
            elif kind == "rule" or kind == "opel_reading":
                if self.alerts:
                    shown.append(delta)
            elif kind == "opel":
                shown.append(
                    delta if self.alerts else {"kind": "opel", "opel": _opel_level(delta["opel"])}
                )
            elif kind in EVERY_BOARD:
                shown.append(delta)
        # Any other kind reaches no board until a rule here says whose it is.
        return shown

    def snapshot(
        self,
        sites: list[JSON],
        wards: list[JSON],
        beds: list[JSON],
        discharges: list[JSON],
        capacity: list[JSON],
        alerts: list[JSON],
        opel: list[JSON],
    ) -> JSON:
        return {
            "sites": sites,
            "wards": [shown for ward in wards if (shown := self.ward(ward)) is not None],
            "beds": [shown for bed in beds if (shown := self.bed(bed)) is not None],
            "discharges": [
                shown for item in discharges if (shown := self.discharge(item)) is not None
            ],
            "capacity": capacity if self.capacity else [],
            "alerts": alerts if self.alerts else [_alert_counted(one) for one in alerts],
            "opel": opel if self.alerts else [_opel_level(one) for one in opel],
        }
