"""Configuration files the core reads (the access policy, the pathway rules, the HL7
sources): TOML, validated by a model, refused with the file and the problem named."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def describe(error: ValidationError, limit: int | None = None) -> str:
    """Each problem as ``where: what``, the way a person fixing the input reads it."""
    problems = error.errors(include_url=False)[:limit]
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'document'}: {problem['msg']}"
        for problem in problems
    )


def load_toml(path: Path, model: type[Model], refused: type[ValueError]) -> Model:
    """The file as ``model``, or ``refused`` naming the file and what is wrong in it."""
    try:
        return model.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise refused(f"{path}: {error}") from None
    except ValidationError as error:
        raise refused(f"{path}: {describe(error)}") from None
