"""The procedure catalogue: ``contracts/procedures/*.yaml`` loaded and validated.

Each file is one :class:`~services.procedures.model.Procedure`; its ``key`` is the file name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim06.services.common.settings import Settings
from sim06.services.procedures.model import SCHEMA_FILE, Procedure

# contracts/procedures, reached through the package (services/procedures/catalogue is a symlink
# to it in the checkout, a copy in an installed wheel): the same catalogue either way.
REPO_DIR = Path(__file__).parent / "catalogue"


class CatalogueError(ValueError):
    """A procedure file is malformed (the message names the file and the field)."""


def catalogue_dir(settings: Settings) -> Path:
    """Where the catalogue lives: the setting, else the repository's contracts/procedures."""
    return settings.procedures_dir or REPO_DIR


def procedure_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.name != SCHEMA_FILE)


def load_procedure(path: Path) -> Procedure:
    data: Any = yaml.safe_load(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise CatalogueError(f"{path.name}: a procedure file is a mapping")
    if data.get("key") != path.stem:
        raise CatalogueError(f"{path.name}: key must be the file name ({path.stem!r})")
    try:
        return Procedure.model_validate(data)
    except ValidationError as exc:
        raise CatalogueError(f"{path.name}: {exc}") from None


@dataclass(frozen=True)
class Catalogue:
    """The procedures by key, with lookup by key or gateway code."""

    procedures: dict[str, Procedure]

    @classmethod
    def load(cls, directory: Path) -> Catalogue:
        procedures = {p.stem: load_procedure(p) for p in procedure_files(directory)}
        if not procedures:
            raise CatalogueError(f"no procedure files in {directory}")
        return cls(procedures)

    def find(self, key_or_code: str) -> Procedure | None:
        found = self.procedures.get(key_or_code)
        if found is not None:
            return found
        return next((p for p in self.procedures.values() if p.code == key_or_code), None)

    def all(self) -> list[Procedure]:
        return list(self.procedures.values())


__all__ = ["REPO_DIR", "Catalogue", "CatalogueError", "catalogue_dir", "load_procedure"]
