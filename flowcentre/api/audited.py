"""Reads of patients' identifying details, recorded on the audit trail before they are
answered: a read that cannot be recorded is not answered (503)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import HTTPException, status

from flowcentre.api.routes.beds import SOURCE_SYSTEM
from flowcentre.domain.access import Principal
from flowcentre.domain.audit import DetailsRead, PatientDetailsRead, PatientShown
from flowcentre.domain.events import Source
from flowcentre.domain.model import Spell
from flowcentre.publisher import EventPublisher, PublishFailed


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


async def record_read(
    audit: EventPublisher,
    principal: Principal,
    view: str,
    subject: str,
    shown: Sequence[Shown],
) -> None:
    if not shown:
        return
    now = datetime.now(UTC)
    read = PatientDetailsRead(
        event_id=str(uuid.uuid4()),
        occurred_at=now,
        recorded_at=now,
        source=Source(system=SOURCE_SYSTEM, organisation=principal.organisation_id),
        caused_by=principal.actor,
        payload=DetailsRead(
            view=view, subject=subject, patients=tuple(one.record() for one in shown)
        ),
    )
    try:
        await audit.publish_async([read])
    except PublishFailed as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the read could not be recorded on the audit trail, so it is not shown: {error}",
        ) from None
