"""Discharge planning as staff do it: triage turned into the payload that records it, the
delay reasons a review may give, what a reservation of community capacity must fit, and
which days of a stay can be marked red or green."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field

from flowcentre.domain import clocks
from flowcentre.domain.configuration import load_toml
from flowcentre.domain.contract import Contract, Identifier
from flowcentre.domain.events import CapacityRef, DayMark, ProposedPathway, Triage
from flowcentre.domain.model import CapacityPool, Spell
from flowcentre.domain.triage import Pathway, RuleSet, TriageAnswers, allocate

DEFAULT_DELAY_REASONS = Path(__file__).with_name("delay_reasons.toml")


class DelayReasonsInvalid(ValueError):
    """The delay reason list cannot be used; the message names the file and the problem."""


class DelayReasons(Contract):
    reasons: dict[Identifier, Annotated[str, Field(min_length=1, max_length=200)]]


def load_delay_reasons(path: Path = DEFAULT_DELAY_REASONS) -> DelayReasons:
    return load_toml(path, DelayReasons, DelayReasonsInvalid)


def triage(
    rules: RuleSet,
    spell_id: str,
    referral_id: str,
    answers: TriageAnswers,
    chosen: Pathway | None = None,
    override_reason: str | None = None,
) -> Triage:
    """The triage of a referral: the rule set's proposal, the pathway allocated (the
    proposal's unless ``chosen`` overrides it, with a reason) and the tasks it needs.

    Raises ``OverrideRefused`` for an override without a reason."""
    proposal = rules.propose(answers)
    allocation = allocate(proposal, chosen or proposal.pathway, override_reason)
    return Triage(
        spell_id=spell_id,
        referral_id=referral_id,
        answers=answers,
        proposed=ProposedPathway(
            pathway=proposal.pathway,
            rule=proposal.rule,
            reason=proposal.reason,
            version=proposal.version,
        ),
        pathway=allocation.pathway,
        override_reason=allocation.override_reason,
        tasks=rules.tasks[allocation.pathway],
    )


class ReservationInvalid(ValueError):
    """A reservation no plan could mean; the message starts with the field at fault."""


class ReservationConflict(ValueError):
    """A reservation the patient's plan or the pool, as they stand, does not allow."""


def reservation_expiry(
    spell: Spell,
    pool: CapacityPool | None,
    capacity: CapacityRef,
    asked: datetime | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    hold: timedelta,
) -> datetime:
    """When a reservation of ``capacity`` made for the patient ``now`` lapses: at ``asked``,
    or after ``hold``, and never after the end of the pool's local day, when its place is
    gone whether used or not.

    Raises ``ReservationInvalid`` for a pool day already past, an expiry not in the future
    or after the pool's day, or a service of another pathway than the patient's; these
    come first, so a request is corrected before it is tried against the plan. Then
    ``ReservationConflict`` when the patient has no open referral triaged onto a pathway,
    already holds a reservation of the same service, or the pool has no place left."""
    today = now.astimezone(zone).date()
    if capacity.day < today:
        raise ReservationInvalid(
            f"capacity.day: {capacity.day.isoformat()} is past (today is {today.isoformat()})"
        )
    day_ends = clocks.day_end(capacity.day, zone)
    if asked is not None and asked <= now:
        raise ReservationInvalid("expires_at: must be in the future")
    if asked is not None and asked > day_ends:
        raise ReservationInvalid(
            f"expires_at: must not be after the pool's day ends ({day_ends.isoformat()})"
        )
    referral = spell.referral
    pathway = referral.pathway if referral is not None and referral.open else None
    service = capacity.service
    if pathway is not None and service.pathway is not pathway:
        raise ReservationInvalid(
            f"capacity.service: {service.value} serves pathway {service.pathway.value},"
            f" and the patient is triaged onto pathway {pathway.value}"
        )
    if pathway is None:
        raise ReservationConflict("the patient has no open referral triaged onto a pathway")
    for held in spell.reservations:
        if held.holds_at(now) and held.capacity.service is service:
            raise ReservationConflict(
                f"the patient already holds {service.value} ({held.reservation_id}):"
                " release it first"
            )
    if pool is None or pool.declared is None:
        raise ReservationConflict(f"capacity {capacity.key}: its provider has declared none")
    if pool.free_at(now) <= 0:
        raise ReservationConflict(f"capacity {capacity.key}: nothing left to reserve")
    return asked or min(now + hold, day_ends)


class DayMarkInvalid(ValueError):
    """A red or green day no stay could have; the message starts with the field at fault."""


def day_mark(
    spell: Spell, day: date, green: bool, reason: str | None, now: datetime, zone: ZoneInfo
) -> DayMark:
    """The mark of one day of the patient's stay: a day that has begun where the hospital
    is, and not before the stay did.

    Raises ``DayMarkInvalid`` for a day to come, a day before the admission, or a reason
    given for a green day."""
    today = now.astimezone(zone).date()
    if day > today:
        raise DayMarkInvalid(
            f"day: {day.isoformat()} is still to come (today is {today.isoformat()})"
        )
    # A spell the feed joined mid-stay has no admission on record: its first stay starts it.
    began = spell.admitted or (spell.stays[0].start if spell.stays else None)
    admitted_on = began.at.astimezone(zone).date() if began is not None else None
    if admitted_on is not None and day < admitted_on:
        raise DayMarkInvalid(
            f"day: {day.isoformat()} is before the admission ({admitted_on.isoformat()})"
        )
    if green and reason is not None:
        raise DayMarkInvalid("reason: only a red day gives a reason")
    return DayMark(spell_id=spell.spell_id, day=day, green=green, reason=reason)
