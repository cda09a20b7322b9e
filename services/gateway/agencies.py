"""Agencies of the data-sharing gateway: who they are, what they may call, for what purpose.

An agency (cơ quan) is identified by its code in the QCVN 102:2016/BTTTT form ``DDD.CC.BB.Xnn``
(domain §6.4), authenticates with a client secret or a public JWK (``private_key_jwt``), is
licensed for procedures (``MaDVC``) whose purposes grant operations and response fields, names
its officers (``MaCanBo``) with the procedures each may run, and has a per-minute quota.

The YAML/JSON shape is validated by :class:`AgencySpec`; :class:`AgencyDirectory` holds the
compiled, lookup-ready form (policies precomputed per procedure, purpose and operation).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim06.services.gateway.policy import OPERATIONS, Grant, compile_grant

AGENCY_CODE_PATTERN = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$"
DEMO_FILE = "demo_agencies.yaml"

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PurposeSpec(_Spec):
    """One purpose of a procedure: the operations it grants and their fields."""

    description: str = ""
    grants: dict[str, list[str] | Literal["*"]]
    hide_from_citizen_days: int = Field(
        default=0,
        ge=0,
        le=3650,
        description="Covert cases: the citizen's access log shows the record only after this.",
    )

    @field_validator("grants")
    @classmethod
    def _known_operations(
        cls, grants: dict[str, list[str] | Literal["*"]]
    ) -> dict[str, list[str] | Literal["*"]]:
        unknown = sorted(set(grants) - set(OPERATIONS))
        if unknown:
            raise ValueError(f"unknown operations {unknown}; use {sorted(OPERATIONS)}")
        for operation, fields in grants.items():
            compile_grant(operation, fields)  # unknown field names fail here, at load time
        return grants


class ProcedureSpec(_Spec):
    """An administrative procedure (MaDVC) the agency is licensed to use the database for."""

    code: Code
    name: str = ""
    purposes: dict[Code, PurposeSpec] = Field(min_length=1)


class OfficerSpec(_Spec):
    """An officer or system account (MaCanBo) and the procedures they may run."""

    code: Code
    name: str = ""
    permissions: list[Code] = Field(default_factory=list)


class AgencySpec(_Spec):
    """An agency as configured in ``agencies.yaml`` or posted to the admin API."""

    code: str = Field(pattern=AGENCY_CODE_PATTERN, examples=["000.00.00.H30"])
    name: str = Field(min_length=1, max_length=200)
    name_vi: str = ""
    kind: str = "agency"
    client_id: Code
    client_secret: str | None = Field(default=None, min_length=16, max_length=200)
    jwks: dict[str, Any] | None = Field(
        default=None, description="Public keys for private_key_jwt: {keys: [JWK, ...]}."
    )
    quota_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    procedures: list[ProcedureSpec] = Field(default_factory=list)
    officers: list[OfficerSpec] = Field(default_factory=list)
    default_procedure: Code | None = None
    extra_scopes: list[Literal["citizen:access-log"]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AgencySpec:
        if self.client_secret is None and not self.jwks:
            raise ValueError("give a client_secret, a jwks (private_key_jwt), or both")
        if self.jwks is not None and not isinstance(self.jwks.get("keys"), list):
            raise ValueError("jwks must be {'keys': [...]}")
        codes = {p.code for p in self.procedures}
        for officer in self.officers:
            missing = sorted(set(officer.permissions) - codes)
            if missing:
                raise ValueError(f"officer {officer.code} names unknown procedures {missing}")
        if self.default_procedure is not None and self.default_procedure not in codes:
            raise ValueError(f"default_procedure {self.default_procedure} is not licensed")
        return self

    def public(self) -> dict[str, Any]:
        """The agency without its secret (what the admin API lists)."""
        data = self.model_dump(exclude={"client_secret"})
        data["auth_methods"] = auth_methods(self)
        return data


def auth_methods(spec: AgencySpec) -> list[str]:
    """Token endpoint authentication methods the agency can use."""
    methods = []
    if spec.client_secret is not None:
        methods.append("client_secret_basic")
    if spec.jwks:
        methods.append("private_key_jwt")
    return methods


@dataclass(frozen=True, slots=True)
class Agency:
    """The compiled form of an agency: O(1) checks on the hot path."""

    spec: AgencySpec
    # (procedure, purpose, operation) -> grant
    grants: dict[tuple[str, str, str], Grant]
    procedures: frozenset[str]
    # procedure -> purposes licensed for it
    purposes: dict[str, tuple[str, ...]]
    # officer -> procedures they may run
    officers: dict[str, frozenset[str]]
    scopes: frozenset[str]
    # (procedure, purpose) -> days the exchange stays hidden from the citizen
    hidden_days: dict[tuple[str, str], int]

    @property
    def code(self) -> str:
        return self.spec.code


def compile_agency(spec: AgencySpec) -> Agency:
    """Precompute the policies of ``spec``."""
    grants: dict[tuple[str, str, str], Grant] = {}
    hidden_days: dict[tuple[str, str], int] = {}
    purposes: dict[str, tuple[str, ...]] = {}
    scopes: set[str] = set(spec.extra_scopes)
    for procedure in spec.procedures:
        purposes[procedure.code] = tuple(procedure.purposes)
        for purpose, purpose_spec in procedure.purposes.items():
            hidden_days[(procedure.code, purpose)] = purpose_spec.hide_from_citizen_days
            for operation, fields in purpose_spec.grants.items():
                grants[(procedure.code, purpose, operation)] = compile_grant(operation, fields)
                scopes.add(OPERATIONS[operation])
    officers = {o.code: frozenset(o.permissions) for o in spec.officers}
    return Agency(
        spec=spec,
        grants=grants,
        procedures=frozenset(purposes),
        purposes=purposes,
        officers=officers,
        scopes=frozenset(scopes),
        hidden_days=hidden_days,
    )


class DuplicateAgency(ValueError):
    """An agency with this code or client id is already registered."""


class AgencyDirectory:
    """The agencies the gateway knows, by code and by client id (thread-safe adds)."""

    def __init__(self, specs: list[AgencySpec] | None = None) -> None:
        self._by_code: dict[str, Agency] = {}
        self._by_client: dict[str, Agency] = {}
        self._lock = threading.Lock()
        for spec in specs or []:
            self.add(spec)

    def add(self, spec: AgencySpec) -> Agency:
        """Register an agency; :class:`DuplicateAgency` if its code or client id is taken."""
        agency = compile_agency(spec)
        with self._lock:
            if spec.code in self._by_code or spec.client_id in self._by_client:
                raise DuplicateAgency(
                    f"agency {spec.code} / client {spec.client_id} already exists"
                )
            self._by_code[spec.code] = agency
            self._by_client[spec.client_id] = agency
        return agency

    def by_code(self, code: str) -> Agency | None:
        return self._by_code.get(code)

    def by_client(self, client_id: str) -> Agency | None:
        return self._by_client.get(client_id)

    def all(self) -> list[Agency]:
        return sorted(self._by_code.values(), key=lambda a: a.code)


def parse_agencies(data: Any) -> list[AgencySpec]:
    """Validate the parsed YAML document of an agencies file."""
    if not isinstance(data, dict) or not isinstance(data.get("agencies"), list):
        raise ValueError("an agencies file is a mapping with an 'agencies' list")
    return [AgencySpec.model_validate(item) for item in data["agencies"]]


def load_agencies(path: Path | None) -> list[AgencySpec]:
    """Agencies of ``path``, or the packaged demo agencies (copy of examples/agencies.yaml)."""
    if path is None:
        text = resources.files("sim06.services.gateway").joinpath(DEMO_FILE).read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return parse_agencies(yaml.safe_load(text))
