"""The one settings object of sim06 (pydantic-settings, prefix ``SIM06_``).

Nothing else in the code base reads the environment: entry points build a ``Settings`` once and
pass it down; tests build their own.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_AS_OF = date(2026, 7, 1)


class Settings(BaseSettings):
    """Configuration shared by every service and the CLI."""

    model_config = SettingsConfigDict(env_prefix="SIM06_", extra="ignore")

    data_dir: Path = Field(default=Path(".sim06"), description="Database, keys and audit log.")
    db_path: Path | None = Field(
        default=None, description="SQLite population file; default DATA_DIR/population.db."
    )
    host: str = "127.0.0.1"
    gateway_port: int = 8000
    registry_port: int = 8001
    identity_port: int = 8002
    seed: int = 6
    population_size: int = Field(default=100_000, ge=0)
    as_of: date = Field(
        default=DEFAULT_AS_OF, description="Date the simulated database describes (ThoiDiemDuLieu)."
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    batch_limit: int = Field(default=1000, ge=1, le=10_000)
    residence_confirmation_validity_days: int = Field(
        default=365, ge=1, description="Validity of a CT07 confirmation (source unsure: [P/U])."
    )

    # --- identity (VNeID mock) settings: added by the identity service ---

    # --- chip card settings: added by the chip service ---

    # --- gateway settings: added by the gateway service ---

    @property
    def keys_dir(self) -> Path:
        """Where generated keys live (never committed)."""
        return self.data_dir / "keys"

    @property
    def database(self) -> Path:
        """Path of the SQLite population database."""
        return self.db_path if self.db_path is not None else self.data_dir / "population.db"
