"""Latency profiles: per-hop delay distributions with percentiles as parameters.

No official response-time figure of the population database, VNeID or the data-sharing platform
is published (domain §6.5, [U]); the only operational fact is that VNeID logins slowed at the
19:00–21:00 evening peak in 2023 [V]. The shipped profiles are therefore **assumptions to
edit** (``SIM06_LATENCY_PROFILES_FILE``), not measurements.

A hop's delay is a piecewise lognormal: below the 95th percentile it is the lognormal through
p50 and p95, above it the lognormal through p95 and p99, so the configured p50, p95 and p99 are
met exactly (a single lognormal has two parameters and cannot honour three percentiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

_Z = NormalDist()
Z95 = _Z.inv_cdf(0.95)
Z99 = _Z.inv_cdf(0.99)
VIETNAM = timedelta(hours=7)  # Asia/Ho_Chi_Minh, no daylight saving
# The fault kinds, named once: settings, the admin API, profiles and expectations use this type.
FaultKind = Literal[
    "timeout", "reset", "truncated", "http_503",
    "slow_body", "malformed", "http_500", "http_429", "http_502",
]  # fmt: skip
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
ALIASES = {"none": "ideal", "peak": "evening-peak"}


class NormalLatency(BaseModel):
    """A normal delay (ms), truncated at 0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float = Field(ge=0)
    sd: float = Field(ge=0)


class HopLatency(BaseModel):
    """Delay of one hop in milliseconds: ``{"fixed": ms}``, ``{"normal": {"mean", "sd"}}``, or
    percentiles ``{"p50", "p95", "p99"}`` (piecewise lognormal)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    p50: float = Field(default=0, ge=0)
    p95: float = Field(default=0, ge=0)
    p99: float = Field(default=0, ge=0)
    fixed: float | None = Field(default=None, ge=0)
    normal: NormalLatency | None = None

    @model_validator(mode="after")
    def _ordered(self) -> HopLatency:
        given = self.model_fields_set
        forms = [
            bool(given & {"p50", "p95", "p99"}),
            self.fixed is not None,
            self.normal is not None,
        ]
        if sum(forms) > 1:
            raise ValueError("give one of: fixed, normal, or p50/p95/p99")
        if not self.p50 <= self.p95 <= self.p99:
            raise ValueError("percentiles must satisfy p50 <= p95 <= p99")
        if self.p50 == 0 and self.p99 > 0:
            raise ValueError("p50 = 0 needs p95 = p99 = 0 (a lognormal has no mass at 0)")
        return self

    def quantile(self, u: float) -> float:
        """The delay (ms) at cumulative probability ``u`` in (0, 1)."""
        if self.fixed is not None:
            return self.fixed
        z = _Z.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
        if self.normal is not None:
            # Truncated at 0 by inverting the normal's CDF above P(X < 0): no mass at negatives.
            n = self.normal
            if n.sd == 0:
                return n.mean
            below = NormalDist(n.mean, n.sd).cdf(0.0)
            p = below + min(max(u, 1e-12), 1 - 1e-12) * (1 - below)
            return max(0.0, NormalDist(n.mean, n.sd).inv_cdf(min(p, 1 - 1e-12)))
        if self.p50 == 0:
            return 0.0
        if z <= Z95:
            return self.p50 * math.exp(math.log(self.p95 / self.p50) / Z95 * z)
        return self.p95 * math.exp(math.log(self.p99 / self.p95) / (Z99 - Z95) * (z - Z95))

    def scaled(self, factor: float) -> HopLatency:
        if self.fixed is not None:
            return HopLatency(fixed=self.fixed * factor)
        if self.normal is not None:
            n = self.normal
            return HopLatency(normal=NormalLatency(mean=n.mean * factor, sd=n.sd * factor))
        return HopLatency(p50=self.p50 * factor, p95=self.p95 * factor, p99=self.p99 * factor)


ZERO = HopLatency(p50=0, p95=0, p99=0)


class Profile(BaseModel):
    """A named profile: delay per service hop (``*`` = any other) and fault rates per service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    hops: dict[str, HopLatency] = Field(default_factory=dict)
    faults: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="service (or *) -> fault kind -> share of requests"
    )
    diurnal: bool = Field(
        default=False, description="Scale delays by the hour of day in Vietnam (evening peak)."
    )

    @model_validator(mode="after")
    def _rates(self) -> Profile:
        for service, rates in self.faults.items():
            unknown = sorted(set(rates) - set(FAULT_KINDS))
            if unknown:
                raise ValueError(f"{service}: unknown fault kinds {unknown}")
            if any(r < 0 for r in rates.values()) or sum(rates.values()) > 1:
                raise ValueError(f"{service}: fault rates must be >= 0 and sum to <= 1")
        return self

    def hop(self, service: str) -> HopLatency:
        return self.hops.get(service) or self.hops.get("*") or ZERO

    def fault_rates(self, service: str) -> dict[str, float]:
        return self.faults.get(service) or self.faults.get("*") or {}


def diurnal_factor(hour: int) -> float:
    """Load multiplier by hour of day (Vietnam time): evening peak 19:00–21:00 [V], rest [I]."""
    if 19 <= hour < 21:
        return 2.5
    if 8 <= hour < 11 or 14 <= hour < 17:
        return 1.3
    if hour < 6:
        return 0.8
    return 1.0


def vietnam_hour(now: datetime | None = None) -> int:
    return ((now or datetime.now(UTC)) + VIETNAM).hour


_TYPICAL = {
    "gateway": HopLatency(p50=12, p95=35, p99=70),
    "registry": HopLatency(p50=8, p95=25, p99=60),
    "identity": HopLatency(p50=35, p95=110, p99=250),
    "*": HopLatency(p50=10, p95=30, p99=60),
}


def _scaled(hops: dict[str, HopLatency], factors: dict[str, float]) -> dict[str, HopLatency]:
    return {name: hop.scaled(factors.get(name, factors["*"])) for name, hop in hops.items()}


SHIPPED: dict[str, Profile] = {
    "ideal": Profile(description="No added delay, no faults (the default)."),
    "typical": Profile(
        description="Ordinary daytime load. ASSUMED figures [I]: no official latency is published.",
        hops=_TYPICAL,
    ),
    "evening-peak": Profile(
        description="19:00-21:00 peak: VNeID logins slowed in 2023 [V]; factors assumed [I].",
        hops=_scaled(_TYPICAL, {"identity": 4.0, "*": 2.5}),
    ),
    "diurnal": Profile(
        description="Typical, scaled by the hour of day in Vietnam (peak 19:00-21:00).",
        hops=_TYPICAL,
        diurnal=True,
    ),
    "degraded": Profile(
        description="Slow and flaky: 4x delays, 5% 503, 1% timeouts, 1% resets [I].",
        hops=_scaled(_TYPICAL, {"*": 4.0}),
        faults={"*": {"http_503": 0.05, "timeout": 0.01, "reset": 0.01}},
    ),
    "outage": Profile(
        description="Scheduled outage: every request answers 503 with Retry-After.",
        faults={"*": {"http_503": 1.0}},
    ),
}


@dataclass
class ProfileBook:
    """The known profiles: the shipped ones, replaced or extended by a profiles file."""

    profiles: dict[str, Profile] = field(default_factory=lambda: dict(SHIPPED))

    @classmethod
    def load(cls, path: Path | None) -> ProfileBook:
        book = cls()
        if path is not None:
            data: Any = yaml.safe_load(path.read_text("utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
                raise ValueError(f"{path}: a profiles file is a mapping with a 'profiles' map")
            for name, spec in data["profiles"].items():
                book.profiles[str(name)] = Profile.model_validate(spec)
        return book

    def resolve(self, name: str) -> str:
        """The canonical name of ``name`` (aliases none/peak); KeyError if unknown."""
        canonical = ALIASES.get(name, name)
        if canonical not in self.profiles:
            raise KeyError(name)
        return canonical

    def get(self, name: str) -> Profile:
        return self.profiles[self.resolve(name)]

    def names(self) -> list[str]:
        return list(self.profiles)


def sample_delay(profile: Profile, service: str, u: float, hour: int | None = None) -> float:
    """The delay (ms) of ``service`` under ``profile`` for the uniform draw ``u``."""
    delay = profile.hop(service).quantile(u)
    if profile.diurnal:
        delay *= diurnal_factor(vietnam_hour() if hour is None else hour)
    return delay


__all__ = [
    "ALIASES",
    "FAULT_KINDS",
    "SHIPPED",
    "HopLatency",
    "NormalLatency",
    "Profile",
    "ProfileBook",
    "diurnal_factor",
    "sample_delay",
]
