"""Webhook subscriptions of the change feed: the model, its checks and its SQLite store.

A subscription ``{id, agency, procedure, purpose, url, description?, legal_basis?, after?}``
asks the gateway to POST each feed item to ``url``, cut by the agency's ``changes`` grant for
``(procedure, purpose)`` (the same data minimisation as the pull feed). ``agency`` is the
agency's client id. Subscriptions come from ``SIM06_GATEWAY_WEBHOOKS_FILE`` (source ``config``,
applied at start: the file wins for its ids) and from the admin API (source ``admin``).

The feed itself is the outbox: each subscription keeps the cursor it has delivered up to (and
the event id and commit time found there, to notice a feed rewound by a test reset), in
``DATA_DIR/webhooks.db`` with the log of every delivery attempt. Connections are opened per
operation (a few per delivery, each well under a millisecond), so nothing is left open by an
app that never started.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field

from sim06.services.gateway.agencies import AgencyDirectory, Code

ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscription (
    id TEXT PRIMARY KEY,
    agency TEXT NOT NULL,
    procedure TEXT NOT NULL,
    purpose TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    after INTEGER,
    source TEXT NOT NULL,
    created TEXT NOT NULL,
    cursor INTEGER,
    cursor_event TEXT
);
CREATE TABLE IF NOT EXISTS delivery (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event_time TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    latency_ms REAL NOT NULL,
    time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_at ON delivery (subscription, cursor);
"""
_FIELDS = ("id", "agency", "procedure", "purpose", "url", "description", "legal_basis", "after",
           "source", "created", "cursor", "cursor_event")  # fmt: skip


class WebhookSpec(BaseModel):
    """A subscription as configured or posted to ``POST /admin/webhooks``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Stable id (required in the file); default: generated.",
        examples=["mai-tang-deaths"],
    )
    agency: Code = Field(description="Client id of the receiving agency.")
    procedure: Code = Field(description="Procedure (MaDVC) whose purpose grants `changes`.")
    purpose: Code = Field(description="Purpose whose `changes` grant cuts each item.")
    url: str = Field(
        min_length=1, max_length=2000, description="http(s) URL the items are POSTed to."
    )
    description: str = Field(default="", max_length=500)
    legal_basis: str = Field(
        default="", max_length=300, description="Recorded in the audit log of each delivery."
    )
    after: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,18}$",
        description="Feed cursor to start after ('0': the whole feed); default: the newest, "
        "so only later events are delivered.",
    )


@dataclass(frozen=True, slots=True)
class Subscription:
    """A stored subscription and how far it has been delivered."""

    id: str
    agency: str
    procedure: str
    purpose: str
    url: str
    description: str
    legal_basis: str
    after: int | None
    source: str
    created: str
    cursor: int | None  # None: not started (starts at ``after`` or the feed's newest cursor)
    cursor_event: str | None  # ``event_id@time`` of the item at ``cursor`` (None: not known)

    def public(self) -> dict[str, Any]:
        """What the admin API shows."""
        data = asdict(self)
        del data["cursor_event"]
        data["after"] = None if self.after is None else str(self.after)
        data["cursor"] = None if self.cursor is None else str(self.cursor)
        return data


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def subscription_of(spec: WebhookSpec, source: str, webhook_id: str) -> Subscription:
    return Subscription(
        webhook_id, spec.agency, spec.procedure, spec.purpose, spec.url, spec.description,
        spec.legal_basis, None if spec.after is None else int(spec.after), source, now_text(),
        None, None,
    )  # fmt: skip


# --- checks ----------------------------------------------------------------------------------


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Loopback (127.0.0.0/8, ::1, localhost) or a host of ``allowed`` ('*': any)."""
    host = host.lower().rstrip(".")
    if "*" in allowed or host == "localhost" or host in (h.lower() for h in allowed):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, allowed: list[str]) -> str | None:
    """Why ``url`` cannot receive deliveries, or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"url is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "url must be an http or https URL"
    if not host:
        return "url has no host"
    if not host_allowed(host, allowed):
        return (
            f"host {host!r} is not loopback (127.0.0.0/8, ::1, localhost) nor listed in "
            "SIM06_GATEWAY_WEBHOOK_HOSTS"
        )
    return None


def grant_problem(
    directory: AgencyDirectory, agency: str, procedure: str, purpose: str
) -> tuple[str, str] | None:
    """``(field, reason)`` when the agency is unknown or holds no such ``changes`` grant."""
    found = directory.by_client(agency)
    if found is None:
        return "agency", f"no agency has the client id {agency!r}"
    if (procedure, purpose, "changes") not in found.grants:
        return "purpose", (
            f"agency {agency!r} holds no 'changes' grant for procedure {procedure!r}, "
            f"purpose {purpose!r}"
        )
    return None


def spec_errors(
    spec: WebhookSpec, directory: AgencyDirectory, allowed: list[str]
) -> list[dict[str, str]]:
    """RFC 9457 ``errors`` items for a subscription that cannot be served (empty: fine)."""
    errors = []
    grant = grant_problem(directory, spec.agency, spec.procedure, spec.purpose)
    if grant is not None:
        errors.append({"pointer": f"/{grant[0]}", "rule": "changes_grant", "reason": grant[1]})
    reason = url_problem(spec.url, allowed)
    if reason is not None:
        errors.append({"pointer": "/url", "rule": "webhook_url", "reason": reason})
    return errors


def load_webhooks(path: Path, directory: AgencyDirectory, allowed: list[str]) -> list[WebhookSpec]:
    """The subscriptions of a webhooks file, checked (ValueError names what is wrong)."""
    data = yaml.safe_load(path.read_text("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("webhooks"), list):
        raise ValueError(f"{path}: a webhooks file is a mapping with a 'webhooks' list")
    specs = [WebhookSpec.model_validate(item) for item in data["webhooks"]]
    seen: set[str] = set()
    for n, spec in enumerate(specs):
        if spec.id is None or spec.id in seen:
            raise ValueError(f"{path}: webhook #{n + 1} needs an id of its own")
        seen.add(spec.id)
        errors = spec_errors(spec, directory, allowed)
        if errors:
            reasons = "; ".join(e["reason"] for e in errors)
            raise ValueError(f"{path}: webhook {spec.id}: {reasons}")
    return specs


# --- store -----------------------------------------------------------------------------------


class DuplicateWebhook(ValueError):
    """A subscription with this id exists."""


class WebhookStore:
    """Subscriptions, cursors and the delivery log in one SQLite file."""

    def __init__(self, path: Path, config: list[WebhookSpec] | None = None, keep: int = 10_000):
        self.path = path
        self.config = list(config or [])
        self.keep = keep
        self._ready = False
        self._inserts = 0
        self._lock_fd: int | None = None

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            if not self._ready:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                self._apply_config(db)
                self._ready = True
            yield db
        finally:
            db.close()

    def _apply_config(self, db: sqlite3.Connection) -> None:
        """The file's subscriptions replace rows of the same id (their cursors are kept)."""
        ids = [s.id for s in self.config]
        db.execute("BEGIN IMMEDIATE")
        for spec in self.config:
            assert spec.id is not None
            row = subscription_of(spec, "config", spec.id)
            db.execute(
                "INSERT INTO subscription VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO "
                "UPDATE SET agency=excluded.agency, procedure=excluded.procedure, "
                "purpose=excluded.purpose, url=excluded.url, description=excluded.description, "
                "legal_basis=excluded.legal_basis, after=excluded.after, source='config'",
                _values(row),
            )
        marks = ",".join("?" * len(ids))
        gone = [r[0] for r in db.execute(
            f"SELECT id FROM subscription WHERE source='config' AND id NOT IN ({marks})", ids
        )]  # fmt: skip
        for webhook_id in gone:
            self._delete(db, webhook_id)
        db.execute("COMMIT")

    def initial(self) -> dict[str, Any]:
        """The state a fresh start gives (the file's subscriptions, not started): the startup
        point of a test reset, known without opening the file."""
        rows = [_values(subscription_of(s, "config", s.id or "")) for s in self.config]
        return {"subscriptions": rows, "deliveries": 0}

    # --- subscriptions ---

    def all(self) -> list[Subscription]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM subscription ORDER BY id").fetchall()
        return [Subscription(**dict(r)) for r in rows]

    def get(self, webhook_id: str) -> Subscription | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM subscription WHERE id=?", (webhook_id,)).fetchone()
        return None if row is None else Subscription(**dict(row))

    def add(self, sub: Subscription) -> None:
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO subscription VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", _values(sub)
                )
        except sqlite3.IntegrityError:
            raise DuplicateWebhook(f"a webhook with the id {sub.id!r} exists") from None

    def delete(self, webhook_id: str) -> bool:
        """Remove the subscription and its delivery log; False if there was none."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            found = self._delete(db, webhook_id)
            db.execute("COMMIT")
        return found

    @staticmethod
    def _delete(db: sqlite3.Connection, webhook_id: str) -> bool:
        found = db.execute("DELETE FROM subscription WHERE id=?", (webhook_id,)).rowcount > 0
        db.execute("DELETE FROM delivery WHERE subscription=?", (webhook_id,))
        return found

    def move(self, webhook_id: str, expected: int | None, cursor: int, event: str | None) -> bool:
        """Set the cursor if it still is ``expected`` (a reset or a delete may have won)."""
        with self._db() as db:
            return self._move(db, webhook_id, expected, cursor, event)

    @staticmethod
    def _move(
        db: sqlite3.Connection,
        webhook_id: str,
        expected: int | None,
        cursor: int,
        event: str | None,
    ) -> bool:
        return bool(
            db.execute(
                "UPDATE subscription SET cursor=?, cursor_event=? WHERE id=? AND cursor IS ?",
                (cursor, event, webhook_id, expected),
            ).rowcount
        )

    # --- the delivery log ---

    def log(self, attempt: dict[str, Any], delivered: bool) -> bool:
        """Record one attempt; a delivered one also moves the cursor onto its item (in the same
        transaction). False if the cursor had moved meanwhile (a reset or a delete won)."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            webhook_id, cursor = attempt["subscription"], attempt["cursor"]
            key = f"{attempt['event_id']}@{attempt['event_time']}"  # webhook_delivery.item_key
            moved = not delivered or self._move(db, webhook_id, cursor - 1, cursor, key)
            if (
                moved
                or db.execute("SELECT 1 FROM subscription WHERE id=?", (webhook_id,)).fetchone()
            ):
                db.execute(
                    "INSERT INTO delivery (subscription, cursor, event_id, event_time, attempt, "
                    "status, error, latency_ms, time) VALUES (:subscription, :cursor, :event_id, "
                    ":event_time, :attempt, :status, :error, :latency_ms, :time)",
                    attempt,
                )
                self._inserts += 1
                if self._inserts % 100 == 0:
                    db.execute(
                        "DELETE FROM delivery WHERE subscription=? AND seq <= (SELECT seq FROM "
                        "delivery WHERE subscription=? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                        (webhook_id, webhook_id, self.keep),
                    )
            db.execute("COMMIT")
        return moved

    def deliveries(
        self, webhook_id: str, limit: int = 100, event_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest attempts first (of one event when ``event_id`` is given)."""
        query = "SELECT * FROM delivery WHERE subscription=?"
        params: list[Any] = [webhook_id]
        if event_id is not None:
            query += " AND event_id=?"
            params.append(event_id)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY seq DESC LIMIT ?", (*params, limit)).fetchall()
        return [{**dict(r), "cursor": str(r["cursor"])} for r in rows]

    def delivered(self, webhook_id: str, cursor: int) -> str | None:
        """``event_id@event_time`` of the item last delivered (2xx) at ``cursor``, if the log
        still has it."""
        with self._db() as db:
            row = db.execute(
                "SELECT event_id || '@' || event_time FROM delivery WHERE subscription=? AND "
                "cursor=? AND status BETWEEN 200 AND 299 ORDER BY seq DESC LIMIT 1",
                (webhook_id, cursor),
            ).fetchone()
        return None if row is None else str(row[0])

    # --- test resets (services.testing.state) ---

    def snapshot(self) -> dict[str, Any]:
        with self._db() as db:
            rows = [tuple(r) for r in db.execute("SELECT * FROM subscription ORDER BY id")]
            seq = db.execute("SELECT coalesce(max(seq), 0) FROM delivery").fetchone()[0]
        return {"subscriptions": rows, "deliveries": int(seq)}

    def restore(self, token: dict[str, Any]) -> None:
        """Subscriptions and cursors as in ``token``; attempts logged since are forgotten."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM subscription")
            db.executemany(
                "INSERT INTO subscription VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", token["subscriptions"]
            )
            db.execute("DELETE FROM delivery WHERE seq > ?", (token["deliveries"],))
            db.execute("COMMIT")

    # --- one deliverer per data directory ---

    def try_lead(self) -> bool:
        """Take the deliverer's lock file (one process delivers; others take over if it dies)."""
        if self._lock_fd is not None:
            return True
        try:
            import fcntl
        except ImportError:  # no flock (Windows): one process is all there is
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None


def _values(sub: Subscription) -> tuple[Any, ...]:
    return tuple(getattr(sub, name) for name in _FIELDS)
