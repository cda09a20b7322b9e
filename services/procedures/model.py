"""The shape of a procedure of the catalogue (``contracts/procedures/*.yaml``).

The published JSON Schema (``contracts/procedures/procedure.schema.json``) is generated from
these models (``write_schema``) and a test fails when they drift apart. Every fact carries a
confidence tag as the domain file does: ``V`` verified (legal text or official source), ``P``
observed in public code, ``I`` inferred by us, ``U`` unknown.

A procedure runs in stages. Before its first *write* stage the decision rules are evaluated: a
dossier they reject or refer is never registered. A linked procedure (liên thông) names more
agencies (``agencies``); each step says which one owns it (``agency``), and the runner drives
that step as that agency: its own token, procedure code (MaDVC), purpose and officer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Tag = Literal["V", "P", "I", "U"]
Key = str
Outcome = Literal["approved", "rejected", "referred"]
StepKind = Literal[
    "vneid-login", "lookup", "verify", "household", "residence-confirmation", "write", "feed",
    "issue",
]  # fmt: skip
WriteOperation = Literal[
    "register-birth", "register-death", "register-residence", "register-marriage",
    "register-divorce", "register-correction",
]  # fmt: skip
EventType = Literal["birth", "death", "residence", "marriage", "divorce", "correction"]
READ_KINDS = ("lookup", "verify", "household", "residence-confirmation", "feed")
SCHEMA_FILE = "procedure.schema.json"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Sourced(_Spec):
    """A tagged fact: its tag and where it comes from (domain file section, URL, or reasoning)."""

    tag: Tag
    source: str = Field(min_length=3)


class Replacement(_Spec):
    """The lookup (or linked registration) that replaces a paper document."""

    step: Key = Field(description="Id of the step that makes the lookup.")
    service: Literal["gateway", "identity", "not-simulated"]
    operation: str = Field(
        description="Gateway operation (a lookup, a register-* write, the changes feed), OIDC "
        "login, or the sector database."
    )
    fields: list[str] = Field(default_factory=list)
    purpose: str = Field(description="Purpose of processing sent in X-Purpose (or login scope).")


class Document(_Spec):
    """A paper document of the dossier before Project 06."""

    id: Key
    name_vi: str
    name_en: str
    legal_basis: str = Field(description="Why it was required (the act or the dossier rule).")
    basis: Sourced
    status: Literal["replaced", "still-required"]
    replaced_by: Replacement | None = None
    still_required_because: str | None = None

    @model_validator(mode="after")
    def _explained(self) -> Document:
        if self.status == "replaced" and self.replaced_by is None:
            raise ValueError(f"document {self.id}: a replaced document names replaced_by")
        if self.status == "still-required" and not self.still_required_because:
            raise ValueError(f"document {self.id}: say why it is still required")
        return self


class Step(_Spec):
    """One call: a citizen's VNeID login, a gateway operation about one person, a civil-status
    write, a read of the change feed, or a document an agency issues in its own system."""

    id: Key
    kind: StepKind
    agency: Key | None = Field(
        default=None,
        description="Key of the procedure's agencies that owns the step (default: its agency).",
    )
    role: Key | None = Field(default=None, description="Whose PIN (a role of the procedure).")
    pin_from: str | None = Field(
        default=None, description="Or a fact path giving the PIN, e.g. mother.spouse.pin."
    )
    level: Literal[1, 2] = Field(default=2, description="vneid-login: VNeID level required.")
    fields: list[str] | None = Field(default=None, description="lookup: ?fields= to ask for.")
    declared: dict[str, str] = Field(
        default_factory=dict, description="verify: body field -> fact path of the declared value."
    )
    operation: WriteOperation | None = Field(
        default=None, description="write: the gateway's register-* operation."
    )
    body: dict[str, Any] | None = Field(
        default=None,
        description="write: the request body. A string '$a.b|c.d' is the first non-empty fact "
        "(a key whose value is absent is left out); '{a.b}' inside a string is replaced by the "
        "fact.",
    )
    event: EventType | None = Field(
        default=None,
        description="feed: the item type to find for the step's PIN, reading the change feed "
        "from the agency's saved cursor.",
    )
    document: dict[str, str] | None = Field(
        default=None,
        description="issue: the document the agency issues in its own (not simulated) system; "
        "values are templates as in body; 'number' is required. Numbers are MOCK.",
    )
    expect: dict[str, Any] = Field(
        default_factory=dict,
        description="After a successful call: answer path -> value it must have ('$path' reads "
        "a fact); otherwise the step is an error (the linked flow broke).",
    )
    description: str = ""

    @model_validator(mode="after")
    def _subject(self) -> Step:
        if self.kind == "write":
            if self.role is not None and self.pin_from is not None:
                raise ValueError(f"step {self.id}: give at most one of role and pin_from")
        elif (self.role is None) == (self.pin_from is None):
            raise ValueError(f"step {self.id}: give exactly one of role and pin_from")
        needs = {"write": ("operation", "body"), "feed": ("event",), "issue": ("document",)}
        for name in needs.get(self.kind, ()):
            if getattr(self, name) is None:
                raise ValueError(f"step {self.id}: a {self.kind} step needs {name}")
        for name, kinds in (
            ("operation", ("write",)),
            ("body", ("write",)),
            ("event", ("feed",)),
            ("document", ("issue",)),
        ):
            if getattr(self, name) is not None and self.kind not in kinds:
                raise ValueError(f"step {self.id}: {name} is for {kinds[0]} steps")
        if self.kind == "issue" and "number" not in (self.document or {}):
            raise ValueError(f"step {self.id}: an issued document has a number")
        if self.expect and self.kind in ("vneid-login", "issue"):
            raise ValueError(f"step {self.id}: expect is for gateway steps")
        return self


class Condition(_Spec):
    """A test over the facts; exactly one operator. Paths: ``step.a.b``, ``params.x``."""

    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    failed: Key | None = Field(default=None, description="The step was refused or failed.")
    field: str | None = None
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    is_null: bool | None = None
    differs_from: str | None = Field(default=None, description="Another fact path.")
    age_under: int | None = Field(
        default=None,
        description="The date (or year) in field is less than N years before params.date.",
    )
    age_at_least: int | None = None
    before: str | None = Field(default=None, description="field < (this path - days).")
    days: int = 0

    @model_validator(mode="after")
    def _one(self) -> Condition:
        combinators = [n for n in ("all", "any", "not_", "failed") if getattr(self, n) is not None]
        tests = [
            n for n in ("equals", "not_equals", "in_", "not_in", "is_null", "differs_from",
                        "age_under", "age_at_least", "before")
            if n in self.model_fields_set
        ]  # fmt: skip
        if len(combinators) + (1 if tests else 0) != 1 or len(tests) > 1:
            raise ValueError("a condition has exactly one operator")
        if tests and self.field is None:
            raise ValueError(f"{tests[0]} needs a field")
        return self


class Rule(_Spec):
    """A decision rule: when its condition holds, the dossier is rejected or referred."""

    id: Key
    outcome: Literal["reject", "refer"]
    when: Condition
    reason_vi: str
    reason_en: str
    legal_basis: str
    basis: Sourced


class Role(_Spec):
    """A person the procedure is about; bound by --persona/--role or derived from a fact."""

    description: str
    derived_from: str | None = Field(default=None, description="Fact path of the default PIN.")


class Param(_Spec):
    default: str
    description: str
    generated: Literal["date", "given-name", "middle-name"] | None = Field(
        default=None,
        description="When no value is given the runner makes one: date = today in Vietnam time "
        "plus days; given-name / middle-name = a name picked from the run id (so that two runs "
        "register two different children, and a replayed run the same one).",
    )
    days: int = Field(default=0, description="generated date: days from today (-3: 3 days ago).")

    @model_validator(mode="after")
    def _generated(self) -> Param:
        if self.generated is not None and self.default:
            raise ValueError("a generated parameter has an empty default")
        return self


class Case(_Spec):
    """A persona run and what it must decide (the catalogue's own tests)."""

    persona: str
    roles: dict[Key, str] = Field(default_factory=dict)
    params: dict[Key, str] = Field(default_factory=dict)
    expect: Outcome
    rules: list[Key] = Field(default_factory=list, description="Rules that must fire.")


class Agency(_Spec):
    """The demo agency that runs the procedure (or one hop of it) at the gateway."""

    client_id: str
    officer: str
    purpose: str
    legal_basis: str
    code: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="MaDVC this agency sends (default: the procedure's code).",
    )
    role_en: str = Field(default="", description="What this agency does in a linked procedure.")


class Procedure(_Spec):
    """An administrative procedure: paper before Project 06, lookups after, decision rules."""

    key: Key = Field(pattern=r"^[a-z0-9-]+$")
    code: str = Field(pattern=r"^[A-Za-z0-9._:-]+$", description="MaDVC sent to the gateway.")
    national_code: str | None = Field(description="Code in the national procedure database.")
    national_code_basis: Sourced
    name_vi: str
    name_en: str
    level: Literal["commune", "province", "central", "non-government"]
    authority_vi: str
    authority_en: str
    basis: Sourced = Field(description="Source of the procedure's Project 06 mode (domain §7).")
    agency: Agency
    agencies: dict[Key, Agency] = Field(
        default_factory=dict,
        description="Linked procedures: the other agencies, each owning the steps naming it.",
    )
    applicant_role: Key
    roles: dict[Key, Role]
    params: dict[Key, Param] = Field(default_factory=dict)
    documents: list[Document] = Field(min_length=1)
    stages: list[list[Step]] = Field(
        min_length=1, description="Stages run in sequence; the steps of a stage in parallel."
    )
    rules: list[Rule] = Field(min_length=1)
    cases: list[Case] = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> Procedure:
        if self.applicant_role not in self.roles:
            raise ValueError(f"applicant_role {self.applicant_role} is not a role")
        steps = [s.id for stage in self.stages for s in stage]
        if len(set(steps)) != len(steps):
            raise ValueError("step ids must be unique")
        for stage in self.stages:
            for step in stage:
                if step.role is not None and step.role not in self.roles:
                    raise ValueError(f"step {step.id}: unknown role {step.role}")
                if step.agency is not None and step.agency not in self.agencies:
                    raise ValueError(f"step {step.id}: unknown agency {step.agency}")
        for doc in self.documents:
            if doc.replaced_by is not None and doc.replaced_by.service != "not-simulated":
                if doc.replaced_by.step not in steps:
                    raise ValueError(f"document {doc.id}: unknown step {doc.replaced_by.step}")
        rules = {r.id for r in self.rules}
        covered = {r for c in self.cases for r in c.rules}
        if rules - covered:
            raise ValueError(f"rules without a persona case: {sorted(rules - covered)}")
        if covered - rules:
            raise ValueError(f"cases name unknown rules: {sorted(covered - rules)}")
        if not any(c.expect == "approved" for c in self.cases):
            raise ValueError("a procedure needs a happy-path case (expect: approved)")
        for case in self.cases:
            unknown = sorted(set(case.roles) - set(self.roles))
            unknown += sorted(set(case.params) - set(self.params))
            if unknown:
                raise ValueError(f"case {case.persona}: unknown roles/params {unknown}")
        return self

    def steps(self) -> list[Step]:
        return [s for stage in self.stages for s in stage]

    def agency_of(self, step: Step) -> Agency:
        """The agency that owns ``step`` (the procedure's own unless the step names one)."""
        return self.agency if step.agency is None else self.agencies[step.agency]

    def code_of(self, step: Step) -> str:
        """The MaDVC sent for ``step``."""
        return self.agency_of(step).code or self.code

    def commit_stage(self) -> int:
        """Index of the first stage that writes (the decision rules run before it)."""
        return next(
            (i for i, stage in enumerate(self.stages) if any(s.kind == "write" for s in stage)),
            len(self.stages),
        )


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of a procedure file."""
    schema = Procedure.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://sim06.example/contracts/procedures/procedure.schema.json"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schema(directory: Path) -> Path:
    path = directory / SCHEMA_FILE
    path.write_text(schema_text(), "utf-8")
    return path


__all__ = [
    "READ_KINDS", "Agency", "Case", "Condition", "Document", "Outcome", "Procedure", "Replacement",
    "Role", "Rule", "Sourced", "Step", "json_schema", "schema_text", "write_schema",
]  # fmt: skip
