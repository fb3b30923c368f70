"""Small builders for real events, so tests read as hospital stories."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import orjson

from flowcentre.domain.access_events import AccessEvent, decode_access_event
from flowcentre.domain.apply import State, apply
from flowcentre.domain.discharge import triage
from flowcentre.domain.events import EventBase, event_from_document
from flowcentre.domain.triage import Pathway, TriageAnswers, load_rules

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
_ids = count(1)


def _document(kind: str, payload: dict[str, Any], minute: float, **envelope: Any) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minute)
    return {
        "event_id": f"test-{next(_ids):08d}",
        "type": kind,
        "occurred_at": at.isoformat(),
        "recorded_at": at.isoformat(),
        "source": {"system": "PAS", "organisation": "RWP"},
        "caused_by": {"kind": "system", "id": "pas-feed"},
        "payload": payload,
        **envelope,
    }


def minutes_from_t0(moment: datetime) -> float:
    """The ``minute`` argument of the builders that puts an event at ``moment``."""
    return (moment - T0).total_seconds() / 60


def event(kind: str, payload: dict[str, Any], minute: float = 0, **envelope: Any) -> EventBase:
    built: EventBase = event_from_document(_document(kind, payload, minute, **envelope))
    return built


def organisation(organisation_id: str = "RWP", minute: float = -90) -> EventBase:
    payload = {"organisation_id": organisation_id, "name": "Acute trust", "kind": "acute_trust"}
    return event("OrganisationRegistered", payload, minute)


def site(site_id: str = "WRH", organisation_id: str = "RWP", minute: float = -80) -> EventBase:
    payload = {
        "site_id": site_id,
        "organisation_id": organisation_id,
        "name": "Royal",
        "kind": "acute_hospital",
    }
    return event("SiteRegistered", payload, minute)


def ward(ward_id: str = "W1", site_id: str = "WRH", minute: float = -60) -> EventBase:
    return event(
        "WardRegistered", {"ward_id": ward_id, "site_id": site_id, "name": ward_id}, minute
    )


def bed(bed_id: str, ward_id: str = "W1", minute: float = -60, **details: Any) -> EventBase:
    payload = {"bed_id": bed_id, "ward_id": ward_id, "label": bed_id, **details}
    return event("BedRegistered", payload, minute)


def where(bed_id: str | None, ward_id: str = "W1") -> dict[str, Any]:
    return {"ward_id": ward_id, "bed_id": bed_id}


def admitted(
    spell: str, bed_id: str | None, minute: float, ward_id: str = "W1", **patient_fields: Any
) -> EventBase:
    patient = {
        "patient_id": f"P-{spell}",
        "given_name": "Ada",
        "family_name": "Lovelace",
        **patient_fields,
    }
    payload = {"spell_id": spell, "patient": patient, "location": where(bed_id, ward_id)}
    return event("PatientAdmitted", payload, minute)


def transferred(spell: str, bed_id: str | None, minute: float, ward_id: str = "W1") -> EventBase:
    return event(
        "PatientTransferred", {"spell_id": spell, "location": where(bed_id, ward_id)}, minute
    )


def discharged(spell: str, minute: float, destination: str = "usual_residence") -> EventBase:
    return event("PatientDischarged", {"spell_id": spell, "destination": destination}, minute)


def requested(
    spell: str,
    minute: float,
    site_id: str = "WRH",
    *,
    decided: float | None = None,
    **place: Any,
) -> EventBase:
    """A decision to admit the spell's patient to a bed of the site, made at ``decided``
    (the request's own minute unless given); ``place``: ``ward_id``, ``specialty``."""
    payload = {
        "spell_id": spell,
        "patient": {"patient_id": f"P-{spell}", "given_name": "Grace", "family_name": "Hopper"},
        "site_id": site_id,
        "decided_at": (T0 + timedelta(minutes=minute if decided is None else decided)).isoformat(),
        **place,
    }
    return event("AdmissionRequested", payload, minute)


def request_cancelled(spell: str, minute: float) -> EventBase:
    return event("AdmissionRequestCancelled", {"spell_id": spell}, minute)


def bed_status(bed_id: str, status: str, minute: float) -> EventBase:
    return event("BedStatusChanged", {"bed_id": bed_id, "status": status}, minute)


def fold(events: Iterable[EventBase], state: State | None = None) -> State:
    state = state if state is not None else State()
    for one in events:
        state.absorb(apply(state, one))
    return state


def access_event(kind: str, payload: dict[str, Any], minute: float = 0) -> AccessEvent:
    document = _document(
        kind,
        payload,
        minute,
        source={"system": "flowcentre-cli", "organisation": "RWP"},
        caused_by={"kind": "user", "id": "admin-1"},
    )
    return decode_access_event(orjson.dumps(document))


def account_created(
    account_id: str,
    username: str,
    minute: float = 0,
    kind: str = "person",
    *,
    single_sign_on: bool = False,
) -> AccessEvent:
    payload = {
        "account_id": account_id,
        "kind": kind,
        "username": username,
        "display_name": f"Name of {account_id}",
        "organisation_id": "RWP",
        "single_sign_on": single_sign_on,
    }
    return access_event("AccountCreated", payload, minute)


def role_granted(account_id: str, role: str, *ward_ids: str, minute: float = 1) -> AccessEvent:
    payload = {"account_id": account_id, "role": role, "ward_ids": list(ward_ids)}
    return access_event("RoleGranted", payload, minute)


def role_revoked(account_id: str, role: str, minute: float = 2) -> AccessEvent:
    return access_event("RoleRevoked", {"account_id": account_id, "role": role}, minute)


def referred(spell: str, minute: float, referral_id: str = "R1") -> EventBase:
    return event("PatientReferred", {"spell_id": spell, "referral_id": referral_id}, minute)


def referral_cancelled(spell: str, minute: float, referral_id: str = "R1") -> EventBase:
    payload = {"spell_id": spell, "referral_id": referral_id, "reason": "went home well"}
    return event("ReferralCancelled", payload, minute)


def triaged(spell: str, minute: float, triage: Any) -> EventBase:
    """``triage``: a ``flowcentre.domain.events.Triage`` payload."""
    return event("PatientTriaged", triage.model_dump(mode="json"), minute)


def task_updated(spell: str, task: str, status: str, minute: float) -> EventBase:
    payload = {"spell_id": spell, "task": task, "status": status}
    return event("DischargeTaskUpdated", payload, minute)


def pool(service: str = "reablement", area: str = "north", day: str = "2026-11-03") -> Any:
    return {"service": service, "area": area, "day": day}


def capacity_declared(available: int, minute: float, **capacity: str) -> EventBase:
    payload = {"organisation_id": "CC", "capacity": pool(**capacity), "available": available}
    return event("CapacityDeclared", payload, minute)


def reserved(
    spell: str, minute: float, hours: float = 4, reservation_id: str = "H1", **capacity: str
) -> EventBase:
    payload = {
        "spell_id": spell,
        "reservation_id": reservation_id,
        "capacity": pool(**capacity),
        "expires_at": (T0 + timedelta(minutes=minute, hours=hours)).isoformat(),
    }
    return event("CapacityReserved", payload, minute)


def released(spell: str, minute: float, reservation_id: str = "H1") -> EventBase:
    payload = {"spell_id": spell, "reservation_id": reservation_id, "reason": "family declined"}
    return event("ReservationReleased", payload, minute)


def reside_reviewed(
    spell: str, minute: float, *, meets: bool, delay_reason: str | None = None
) -> EventBase:
    payload = {"spell_id": spell, "meets_criteria": meets, "delay_reason": delay_reason}
    return event("CriteriaToResideReviewed", payload, minute)


def day_marked(
    spell: str, minute: float, day: str, *, green: bool, reason: str | None = None
) -> EventBase:
    """A red or green day: ``day`` is the calendar day marked (``YYYY-MM-DD``)."""
    payload = {"spell_id": spell, "day": day, "green": green, "reason": reason}
    return event("RedGreenDayMarked", payload, minute)


#: A patient who can go home as they came: every triage answer the least needy.
WELL: dict[str, Any] = {
    "residence": "own_home",
    "lives_alone": False,
    "previous_care": "none",
    "mobility": "independent",
    "daily_living": "independent",
    "cognition": "intact",
    "rehabilitation_potential": "good",
}


def answers(**changes: Any) -> TriageAnswers:
    return TriageAnswers.model_validate({**WELL, **changes})


def triaged_onto(spell: str, pathway: str, minute: float, referral_id: str = "R1") -> EventBase:
    """A triage of the spell's referral onto ``pathway`` ("0" to "3"), overriding the
    default rules' proposal where it differs."""
    needs = answers(mobility="one_to_assist")
    payload = triage(
        load_rules(), spell, referral_id, needs, Pathway(pathway), "as the team agreed"
    )
    return triaged(spell, minute, payload)


#: An alert rule tests start from: occupancy above 92% at each site, no hysteresis.
OCCUPANCY_RULE: dict[str, Any] = {
    "id": "occupancy-high",
    "name": "Occupancy above 92%",
    "measure": "occupancy_pct",
    "scope": {"level": "site"},
    "comparison": ">",
    "threshold": 92,
}
