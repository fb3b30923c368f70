"""What the discharge lists show of a spell and of a capacity pool: the least the work
needs. A ward's list and the flow centre's queue are made of the same item; the clocks
that move with time are added when the item is read, never stored in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from flowcentre.domain import clocks
from flowcentre.domain.events import Service
from flowcentre.domain.model import (
    CapacityPool,
    MarkedDay,
    ReferralRecord,
    ReservationRecord,
    Spell,
    Stamp,
)
from flowcentre.domain.triage import Pathway

JSON = dict[str, Any]


def _at(stamp: Stamp | None) -> str | None:
    return stamp.at.isoformat() if stamp else None


def _by(stamp: Stamp | None) -> JSON | None:
    return {"kind": stamp.by.kind.value, "id": stamp.by.id} if stamp else None


def _referral(referral: ReferralRecord | None) -> JSON | None:
    if referral is None:
        return None
    latest = referral.allocations[-1] if referral.allocations else None
    triage = latest.triage if latest else None
    waits = clocks.queue_waits(referral)
    return {
        "referral_id": referral.referral_id,
        "referred_at": _at(referral.referred),
        "referred_by": _by(referral.referred),
        "note": referral.note,
        "pathway": triage.pathway.value if triage else None,
        "proposed": triage.proposed.model_dump(mode="json") if triage else None,
        "override_reason": triage.override_reason if triage else None,
        "triaged_at": _at(latest.stamp) if latest else None,
        "triaged_by": _by(latest.stamp) if latest else None,
        "in_queue_since": waits[-1].interval.start.isoformat() if waits else None,
        "discharged_at": _at(referral.discharged),
    }


def _reservation(held: ReservationRecord) -> JSON:
    return {
        "reservation_id": held.reservation_id,
        **held.capacity.model_dump(mode="json"),
        "pathway": held.capacity.service.pathway.value,
        "reserved_at": held.reserved.at.isoformat(),
        "expires_at": held.expires_at.isoformat(),
        "released_at": _at(held.released),
        "used_at": _at(held.used),
    }


def _marked_day(marked: MarkedDay | None) -> JSON | None:
    if marked is None:
        return None
    return {
        "date": marked.day.isoformat(),
        "green": marked.green,
        "reason": marked.reason,
        "marked_at": marked.stamp.at.isoformat(),
        "marked_by": _by(marked.stamp),
    }


def discharge_item(spell: Spell) -> JSON:
    """The spell on a discharge list; ``listed`` is false once it has left the lists.

    ``day`` is the latest day marked red or green: a board shows its colour only while
    ``date`` is today where the ward is."""
    location = spell.location
    reside = spell.reside
    return {
        "spell_id": spell.spell_id,
        "listed": spell.in_hospital,
        "ward_id": location.ward_id if location else None,
        "bed_id": location.bed_id if location else None,
        "initials": spell.initials,
        "sharing_objection": spell.patient.sharing_objection if spell.patient else False,
        "admitted_at": _at(spell.admitted),
        "expected_discharge_date": (
            spell.expected_discharge_date.isoformat() if spell.expected_discharge_date else None
        ),
        "expected_discharge_date_changes": max(len(spell.expected_discharge_dates) - 1, 0),
        "clinical_criteria": spell.clinical_criteria,
        "criteria_to_reside": None
        if reside is None
        else {
            "meets": reside.meets_criteria,
            "reviewed_at": reside.reviewed.at.isoformat(),
            "reviewed_by": _by(reside.reviewed),
            "not_met_since": _at(reside.not_met_since),
            "delay_reason": reside.delay_reason,
        },
        "day": _marked_day(spell.latest_marked_day),
        "referral": _referral(spell.referral),
        "tasks": [
            {
                "task": task.task.value,
                "status": task.status.value,
                "due_at": task.due_at.isoformat() if task.due_at else None,
                "updated_at": _at(task.stamp),
                "updated_by": _by(task.stamp),
            }
            for task in spell.tasks
        ],
        "reservations": [_reservation(held) for held in spell.reservations],
        "discharged_at": _at(spell.discharged),
        "destination": spell.destination.value if spell.destination else None,
    }


def holds_capacity(spell: Spell, pathway: Pathway, now: datetime) -> bool:
    """Whether a reservation of one of the pathway's services holds for the patient ``now``.

    One of another pathway's, kept from before a triage changed the pathway, does not
    count: the patient still needs a place of the new one."""
    return any(
        held.holds_at(now) and held.capacity.service.pathway is pathway
        for held in spell.reservations
    )


def waiting_for_capacity(spell: Spell, now: datetime) -> Pathway | None:
    """The pathway whose capacity the patient waits for ``now``: their open referral's, once
    triaged, while they are in hospital and hold no reservation of its services."""
    referral = spell.referral
    if not spell.in_hospital or referral is None or not referral.open:
        return None
    pathway = referral.pathway
    if pathway is None or holds_capacity(spell, pathway, now):
        return None
    return pathway


def blockers(spell: Spell, now: datetime, today: date) -> list[str]:
    """What stands between the patient and leaving, in the words a list shows."""
    found: list[str] = []
    referral = spell.referral
    if referral is not None and referral.open and referral.pathway is None:
        found.append("not triaged")
    pathway = referral.pathway if referral else None
    if (
        pathway is not None
        and pathway is not Pathway.HOME
        and not holds_capacity(spell, pathway, now)
    ):
        found.append("no capacity reserved")
    late = {task.task for task in clocks.flagged_tasks(spell, today)}
    for task in clocks.outstanding(spell):
        found.append(f"{task.task.value}{' (due today)' if task.task in late else ''}")
    if spell.reside is not None and spell.reside.delay_reason:
        found.append(f"delayed: {spell.reside.delay_reason}")
    return found


def discharge_summary(spell: Spell, now: datetime, today: date) -> JSON:
    """The item with its clocks as they stand ``now``."""
    referral = spell.referral
    clock = clocks.referral_to_discharge(referral, now) if referral else None
    waits = clocks.queue_waits(referral) if referral else []
    stay = clocks.length_of_stay(spell, now)
    return {
        **discharge_item(spell),
        "length_of_stay_days": stay.days if stay is not None else None,
        "long_stay": clocks.long_stay(spell, now),
        "referral_to_discharge_hours": (
            round(clock.interval.length_at(now).total_seconds() / 3600, 2) if clock else None
        ),
        "within_target": clock.within_target if clock else None,
        "queue_wait_hours": (
            round(waits[-1].interval.length_at(now).total_seconds() / 3600, 2) if waits else None
        ),
        "tasks_due_today": [task.task.value for task in clocks.flagged_tasks(spell, today)],
        "blockers": blockers(spell, now, today),
    }


def queue_order(spell: Spell) -> tuple[str, float]:
    """The flow centre's queue: by pathway (untriaged first), then oldest referral first."""
    referral = spell.referral
    pathway = referral.pathway if referral else None
    since = referral.referred.at.timestamp() if referral else 0.0
    return (pathway.value if pathway else "", since)


def pool_view(pool: CapacityPool) -> JSON:
    """A pool as boards show it: the reservations without the patients holding them."""
    return {
        "key": pool.key,
        **pool.capacity.model_dump(mode="json"),
        "pathway": pool.capacity.service.pathway.value,
        "organisation_id": pool.organisation_id,
        "available": pool.available,
        "declared_at": _at(pool.declared),
        "reservations": [
            {
                "reservation_id": held.reservation.reservation_id,
                "expires_at": held.reservation.expires_at.isoformat(),
                "released": held.reservation.released is not None,
                "used": held.reservation.used is not None,
            }
            for held in pool.reservations
        ],
    }


def demand_and_capacity(
    referred: Iterable[Spell], pools: Iterable[CapacityPool], now: datetime, today: date
) -> JSON:
    """Per pathway: the patients still waiting for its capacity (``waiting_for_capacity``),
    against the capacity free from today."""
    waiting = Counter(
        pathway.value
        for spell in referred
        if (pathway := waiting_for_capacity(spell, now)) is not None
    )
    free: Counter[str] = Counter()
    for pool in pools:
        if pool.capacity.day >= today:
            free[pool.capacity.service.pathway.value] += max(pool.free_at(now), 0)
    return {
        pathway.value: {
            "waiting": waiting[pathway.value],
            "free": free[pathway.value] if pathway is not Pathway.HOME else None,
            "services": [s.value for s in Service if s.pathway is pathway],
        }
        for pathway in Pathway
    }
