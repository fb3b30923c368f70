"""Reads of patients' identifying details, recorded on the audit trail before they are
answered: a read that cannot be recorded is not answered (503)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import HTTPException, status

from flowcentre.domain.access import Principal
from flowcentre.domain.audit import DetailsRead, PatientDetailsRead, PatientShown
from flowcentre.domain.events import Source
from flowcentre.domain.model import Spell
from flowcentre.publisher import EventPublisher, PublishFailed
from flowcentre.store.reads import LiveReads

log = logging.getLogger(__name__)

#: The system the API's events and audit records come from.
SOURCE_SYSTEM = "flowcentre-api"


def objects(spell: Spell) -> bool:
    return spell.patient is not None and spell.patient.sharing_objection


@dataclass(frozen=True, slots=True)
class Shown:
    """A spell whose patient a read shows, as its reader was allowed to see them."""

    spell: Spell
    withheld: bool
    held_by: str | None
    """The organisation running the patient's ward."""

    def record(self) -> PatientShown:
        patient = self.spell.patient
        return PatientShown(
            patient_id=patient.patient_id if patient else self.spell.spell_id,
            nhs_number=patient.nhs_number if patient else None,
            spell_id=self.spell.spell_id,
            withheld=self.withheld,
            held_by=self.held_by,
        )


def shown_to(principal: Principal, spell: Spell, held_by: str | None) -> Shown:
    """The spell as the principal may see it: withheld when the patient objects to sharing
    and the ward is another organisation's."""
    withheld = held_by != principal.organisation_id and objects(spell)
    return Shown(spell, withheld, held_by)


def read_record(
    principal: Principal, view: str, subject: str, patients: Sequence[PatientShown]
) -> PatientDetailsRead:
    now = datetime.now(UTC)
    return PatientDetailsRead(
        event_id=str(uuid.uuid4()),
        occurred_at=now,
        recorded_at=now,
        source=Source(system=SOURCE_SYSTEM, organisation=principal.organisation_id),
        caused_by=principal.actor,
        payload=DetailsRead(view=view, subject=subject[:200], patients=tuple(patients)),
    )


async def record_read(
    audit: EventPublisher,
    principal: Principal,
    view: str,
    subject: str,
    shown: Sequence[Shown],
) -> None:
    await record_patients(audit, principal, view, subject, [one.record() for one in shown])


async def record_patients(
    audit: EventPublisher,
    principal: Principal,
    view: str,
    subject: str,
    patients: Sequence[PatientShown],
) -> None:
    """Record the read before it is answered; 503 if it cannot be recorded."""
    if not patients:
        return
    try:
        await audit.publish_async([read_record(principal, view, subject, patients)])
    except PublishFailed as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the read could not be recorded on the audit trail, so it is not shown: {error}",
        ) from None


#: The view a board's reads are recorded under.
BOARD_VIEW = "WS /ws/whiteboard"


@dataclass(frozen=True, slots=True)
class _Patient:
    """What a board read's record needs of a spell's patient."""

    patient_id: str
    nhs_number: str | None
    held_by: str | None
    objects: bool

    def shown_to(self, spell_id: str, principal: Principal) -> PatientShown:
        withheld = self.held_by != principal.organisation_id and self.objects
        return PatientShown(
            patient_id=self.patient_id,
            nhs_number=self.nhs_number,
            spell_id=spell_id,
            withheld=withheld,
            held_by=self.held_by,
        )


class BoardAudit:
    """Records each patient a whiteboard is shown, once a connection: initials and a bed
    are a patient's, to whoever stands in front of the board.

    Boards are not held up for it: what boards are shown is gathered, per account, and
    recorded every second or so, in one record an account, kept and retried while the log
    cannot take it. What a patient's record needs is looked up once and kept for a few
    minutes, so a hundred boards showing a ward cost one lookup.
    """

    def __init__(
        self,
        reads: LiveReads,
        audit: EventPublisher,
        *,
        every_s: float = 1.0,
        remember_s: float = 300.0,
    ) -> None:
        self._reads = reads
        self._audit = audit
        self._every_s = every_s
        self._remember_s = remember_s
        self._waiting: dict[str, tuple[Principal, set[str]]] = {}
        self._patients: dict[str, _Patient] = {}
        self._remembered_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def shown(self, principal: Principal, spells: frozenset[str]) -> None:
        _, waiting = self._waiting.setdefault(principal.actor.id, (principal, set()))
        waiting |= spells

    async def start(self) -> None:
        self._task = asyncio.create_task(self._record_every(), name="board-audit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # What boards were shown up to the end is recorded too, if the log takes it.
        with contextlib.suppress(PublishFailed):
            await self.record_waiting()

    async def _record_every(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self.record_waiting()
            except PublishFailed:
                log.warning("boards' reads could not be recorded yet: kept for the next try")

    async def record_waiting(self) -> None:
        """Record what boards have been shown since the last time."""
        taken, self._waiting = self._waiting, {}
        try:
            await self._look_up({spell for _, spells in taken.values() for spell in spells})
            records = [
                read_record(
                    principal,
                    BOARD_VIEW,
                    "board",
                    [
                        self._patients[spell].shown_to(spell, principal)
                        for spell in sorted(spells)
                        if spell in self._patients
                    ],
                )
                for principal, spells in taken.values()
            ]
            await self._audit.publish_async([r for r in records if r.payload.patients])
        except BaseException:
            # Kept for the next attempt, with what came meanwhile.
            for key, (principal, spells) in taken.items():
                self._waiting.setdefault(key, (principal, set()))[1].update(spells)
            raise

    async def _look_up(self, spells: set[str]) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._remembered_at > self._remember_s:
            # A patient moves ward, or objects: what is kept of them does not go stale.
            self._patients.clear()
            self._remembered_at = now
        wards: dict[str, str | None] = {}
        for spell in await self._reads.spells(sorted(spells - self._patients.keys())):
            patient = spell.patient
            ward = spell.location.ward_id if spell.location else None
            if ward is not None and ward not in wards:
                wards[ward] = await self._reads.ward_organisation(ward)
            self._patients[spell.spell_id] = _Patient(
                patient_id=patient.patient_id if patient else spell.spell_id,
                nhs_number=patient.nhs_number if patient else None,
                held_by=wards.get(ward) if ward else None,
                objects=objects(spell),
            )
