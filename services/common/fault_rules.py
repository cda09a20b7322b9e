"""Where and when a fault applies: request scope (route, agency, persona) and scheduled outages.

Scope checks are cheap string tests on what the middleware already has (the path and the
``X-Road-Client`` header), never on the body. Outage windows are read on the controller's clock,
so tests move time instead of sleeping. Daily windows ("19:00") are in Vietnam time (UTC+7, no
daylight saving), as the evening peak is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field, field_validator

VIETNAM = timedelta(hours=7)
_DAILY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Status of an error rate -> the fault kind that answers it.
ERROR_KINDS = {"429": "http_429", "500": "http_500", "502": "http_502", "503": "http_503"}


def _persona_pin(value: str) -> str:
    """A PIN as given, or the PIN of a persona key (``adult-level2``); ValueError if unknown."""
    if value.isdigit():
        return value
    from sim06.mock_registry.personas import BY_KEY

    persona = BY_KEY.get(value)
    if persona is None:
        raise ValueError(f"unknown persona {value!r}; give a PIN or one of {sorted(BY_KEY)}")
    return persona.pin


class FaultScope(BaseModel):
    """The requests a fault and profile apply to; an empty list means any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[str] = Field(default_factory=list, description="Path globs: /v1/citizens/*")
    agencies: list[str] = Field(default_factory=list, description="Agency codes (X-Road-Client)")
    personas: list[str] = Field(default_factory=list, description="PINs or persona keys")

    @field_validator("personas")
    @classmethod
    def _pins(cls, values: list[str]) -> list[str]:
        return [_persona_pin(v.strip()) for v in values]

    def matches(self, path: str, client: str | None) -> bool:
        if self.routes and not any(fnmatchcase(path, glob) for glob in self.routes):
            return False
        if self.agencies:
            # X-Road-Client is "VN/GOV/<agency>/<subsystem>" or the bare agency code.
            parts = (client or "").split("/")
            if not any(a in parts for a in self.agencies):
                return False
        return not self.personas or any(pin in path for pin in self.personas)


class Outage(BaseModel):
    """A scheduled outage of one service: a one-off instant or a daily ``HH:MM`` (Vietnam)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(description="registry, identity, gateway, procedures or admin")
    start: str = Field(description="ISO 8601 with offset, or daily HH:MM in Vietnam time")
    minutes: float = Field(gt=0, le=7 * 24 * 60)

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        from sim06.services.common.faults import SERVICES

        if value not in SERVICES:
            raise ValueError(f"unknown service {value!r}; use one of {list(SERVICES)}")
        return value

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        if _DAILY.match(value):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("start is HH:MM or an ISO 8601 date-time with offset") from None
        if moment.tzinfo is None:
            raise ValueError("an ISO 8601 start needs an offset (+07:00)")
        return value

    def remaining(self, now: datetime) -> float | None:
        """Seconds until the window ends if ``now`` is inside it, else None."""
        length = timedelta(minutes=self.minutes)
        if _DAILY.match(self.start):
            local = now.astimezone(UTC) + VIETNAM
            hour, minute = map(int, self.start.split(":"))
            begin = datetime.combine(local.date(), time(hour, minute), tzinfo=UTC)
            local = local.replace(tzinfo=UTC)
            # A window started yesterday may still run past midnight.
            for start in (begin, begin - timedelta(days=1)):
                if start <= local < start + length:
                    return (start + length - local).total_seconds()
            return None
        start = datetime.fromisoformat(self.start)
        if start <= now < start + length:
            return (start + length - now).total_seconds()
        return None


def outage_remaining(outages: list[Outage], service: str, now: datetime) -> float | None:
    """The longest remaining time of the outages of ``service`` in force at ``now``, or None."""
    left = [r for o in outages if o.service == service and (r := o.remaining(now)) is not None]
    return max(left) if left else None


__all__ = ["ERROR_KINDS", "FaultScope", "Outage", "outage_remaining"]
