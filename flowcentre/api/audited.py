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


class BoardAudit:
    """Records each patient a whiteboard is shown, once a connection: initials and a bed
    are a patient's, to whoever stands in front of the board.

    Boards are not held up for it: what a board is shown is queued and recorded within a
    second or so, and kept queued, retried, while the log cannot take it.
    """

    def __init__(self, reads: LiveReads, audit: EventPublisher, *, every_s: float = 1.0) -> None:
        self._reads = reads
        self._audit = audit
        self._every_s = every_s
        self._waiting: list[tuple[Principal, frozenset[str]]] = []
        self._task: asyncio.Task[None] | None = None

    def shown(self, principal: Principal, spells: frozenset[str]) -> None:
        self._waiting.append((principal, spells))

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
                log.warning(
                    "boards' reads could not be recorded yet; %d waiting", len(self._waiting)
                )

    async def record_waiting(self) -> None:
        """Record what boards have been shown since the last time."""
        taken, self._waiting = self._waiting, []
        try:
            records = [await self._record(principal, spells) for principal, spells in taken]
            await self._audit.publish_async([record for record in records if record])
        except BaseException:
            # Kept for the next attempt, in order, ahead of what came meanwhile.
            self._waiting = taken + self._waiting
            raise

    async def _record(
        self, principal: Principal, spells: frozenset[str]
    ) -> PatientDetailsRead | None:
        shown = []
        for spell in await self._reads.spells(sorted(spells)):
            ward = spell.location.ward_id if spell.location else None
            held_by = await self._reads.ward_organisation(ward) if ward else None
            shown.append(shown_to(principal, spell, held_by))
        if not shown:
            return None
        return read_record(principal, BOARD_VIEW, "board", [one.record() for one in shown])
