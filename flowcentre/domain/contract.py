"""The base every record of the contract shares: immutable, strict about unknown fields."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:/@-]+$")]


class Contract(BaseModel):
    """Immutable, strict about unknown fields so a misspelt field is an error, not a loss."""

    model_config = ConfigDict(frozen=True, extra="forbid")
