"""The one settings object of sim06 (pydantic-settings, prefix ``SIM06_``).

Nothing else in the code base reads the environment: entry points build a ``Settings`` once and
pass it down; tests build their own.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sim06.services.common.latency import FaultKind

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
    identity_issuer: str | None = Field(
        default=None, description="OIDC issuer URL; default http://HOST:IDENTITY_PORT."
    )
    identity_alg: Literal["RS256", "ES256"] = Field(
        default="RS256", description="Signature algorithm of ID and access tokens."
    )
    identity_auto_login: bool = Field(
        default=False,
        description="Non-interactive mode for CI: /authorize logs in login_hint without a page "
        "(per request: header X-Sim-Auto-Login).",
    )
    identity_clients_file: Path | None = Field(
        default=None, description="YAML file of registered OIDC clients (relying parties)."
    )
    identity_registration_open: bool = Field(
        default=True, description="Dynamic client registration (RFC 7591) on /register."
    )
    identity_pairwise_subject: bool = Field(
        default=False, description="Default subject type: pairwise per client instead of public."
    )
    identity_portal_vneid_url: str | None = Field(
        default=None,
        description="Portal SSO (/oauth2): base URL of the VNeID realm's back channel (token, "
        "userinfo, certs) over HTTP; unset: the identity app in process (no socket).",
    )
    identity_portal_broker_secret: str | None = Field(
        default=None,
        description="Portal SSO: client secret of its broker client at the VNeID realm; unset: "
        "generated on first run into the data directory (keys/portal-broker-secret).",
    )
    identity_code_ttl: int = Field(default=60, ge=1, le=600)
    identity_access_token_ttl: int = Field(default=600, ge=10)
    identity_id_token_ttl: int = Field(default=600, ge=10)
    identity_refresh_token_ttl: int = Field(default=8 * 3600, ge=60)
    identity_session_ttl: int = Field(default=1800, ge=60)
    identity_key_retire_after: float = Field(
        default=86_400.0, description="Seconds an old signing key stays in the JWKS."
    )
    identity_qr_ttl: int = Field(
        default=120, ge=5, le=900, description="Life of a QR login transaction (seconds)."
    )
    identity_qr_test_api: bool = Field(
        default=True,
        description="POST /v1/test/qr/{txn}/approve|deny: CI approves QR logins without a page.",
    )
    identity_gateway_url: str | None = Field(
        default=None,
        description="Gateway base URL the /account/access-log page reads; default "
        "http://HOST:GATEWAY_PORT.",
    )

    # --- chip card settings: added by the chip service ---
    chip_attestation_alg: Literal["ES256", "RS256"] = Field(
        default="ES256", description="Algorithm of the simulated C06 key signing chip verdicts."
    )
    mrz_lifelong_expiry: Literal["sentinel", "fillers"] = Field(
        default="sentinel",
        description="MRZ expiry of a card valid for life (the real encoding is unknown): "
        "sentinel = 681231 (31 Dec 2068), a date standard TD1 checkers accept; fillers = <<<<<<.",
    )
    face_match_threshold: float = Field(
        default=0.80,
        ge=0.0,
        le=1.0,
        description="Face-match score at or above which the probe matches the chip photo.",
    )
    face_max_image_bytes: int = Field(
        default=524_288, ge=1024, description="Largest face-match image accepted (bytes)."
    )

    # --- gateway settings: added by the gateway service ---
    gateway_embedded: bool = Field(
        default=True,
        description="Embedded demo: the demo agencies and the default admin token are allowed.",
    )
    gateway_admin_token: str = Field(
        default="changethis",
        description="Bearer token of the gateway admin API; must be changed outside the demo.",
    )
    gateway_agencies_file: Path | None = Field(
        default=None, description="Agencies YAML; default: the packaged demo agencies."
    )
    registry_write_token: str | None = Field(
        default=None,
        description="Bearer credential the registry asks of civil-status writes (the gateway "
        "sends it); default: generated on first run into DATA_DIR/keys/registry-write.token.",
    )
    registry_feed_limit: int = Field(
        default=1000, ge=1, le=10_000, description="Most change-feed items one page returns."
    )
    gateway_registry_url: str | None = Field(
        default=None, description="Registry base URL; None calls the registry in process."
    )
    gateway_registry_timeout: float = Field(default=5.0, gt=0)
    gateway_token_ttl: int = Field(default=300, ge=10, le=3600, description="Access token life.")
    gateway_tls_port: int = Field(
        default=8443, description="Gateway HTTPS listener with optional mTLS (RFC 8705)."
    )
    gateway_tls_certfile: Path | None = Field(
        default=None, description="Server certificate (PEM); default: generated under keys/."
    )
    gateway_tls_keyfile: Path | None = Field(
        default=None, description="Server private key (PEM); default: generated under keys/."
    )
    gateway_mtls_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of TLS-terminating proxies trusted to pass X-SSL-Client-Cert.",
    )
    gateway_audit_path: Path | None = Field(
        default=None, description="Hash-chained audit log (SQLite); default DATA_DIR/audit.db."
    )
    gateway_audit_durable: bool = Field(
        default=True, description="Answer only once the audit record is committed (group commit)."
    )
    # --- audit evidence (signed tree heads, services/audit) ---
    audit_checkpoint_every: int = Field(
        default=1000, ge=1, description="Sign a Merkle tree head at least every this many records."
    )
    audit_checkpoint_seconds: float = Field(
        default=5.0, gt=0, description="... and every this many seconds when records came."
    )
    audit_checkpoint_dir: Path | None = Field(
        default=None,
        description="Signed tree heads, outside the log database; default "
        "DATA_DIR/audit-checkpoints.",
    )
    audit_timestamp: bool = Field(
        default=False,
        description="Counter-sign each tree head with sim06's mock RFC 3161 time-stamping "
        "authority (the one served at POST /__sim06/tsa).",
    )
    gateway_request_id_ttl: int = Field(
        default=86_400, ge=60, description="How long a MaYeuCau is remembered to refuse replays."
    )

    # --- contracts (strict mode, journal): added by the contracts work ---
    strict_contracts: bool = Field(
        default=False,
        description="Validate every request against the service's OpenAPI; violations get 422 "
        "CONTRACT_VIOLATION (off: nothing is installed).",
    )
    strict_responses: bool = Field(
        default=False,
        description="With strict_contracts: also validate responses; a violating one becomes a "
        "500 RESPONSE_CONTRACT_VIOLATION (a sim06 bug detector, for tests).",
    )
    contract_journal: bool = Field(
        default=False,
        description="Record a summary of every exchange for GET /__sim06/journal and "
        "'sim06 contract coverage'.",
    )
    contract_journal_size: int = Field(
        default=100_000, ge=1, le=10_000_000, description="Exchanges kept (oldest dropped)."
    )
    contract_journal_path: Path | None = Field(
        default=None,
        description="SQLite file for the journal (shared by workers, kept across restarts); "
        "default: in memory.",
    )

    # --- backends (PostgreSQL, Redis): added by the scale work ---
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the population (postgresql://user:pw@host/db); "
        "None: the SQLite file DB_PATH.",
    )
    database_pool_size: int = Field(
        default=8, ge=1, le=200, description="Pooled PostgreSQL connections per process."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL of the state shared by replicas (codes, sessions, replay caches, "
        "rate limits); None: in process.",
    )
    redis_prefix: str = Field(
        default="sim06:", description="Prefix of every Redis key (several environments, one Redis)."
    )

    # --- latency profiles and faults: added by the procedures work ---
    latency_profile: str = Field(
        default="ideal",
        description="Latency profile applied to every request (ideal, typical, evening-peak, "
        "degraded, outage; per request: header X-Sim-Latency-Profile).",
    )
    latency_profiles_file: Path | None = Field(
        default=None, description="YAML of extra or replaced latency profiles."
    )
    fault: FaultKind | None = Field(
        default=None, description="Fault injected into requests (per request: header X-Sim-Fault)."
    )
    fault_rate: float = Field(
        default=1.0, ge=0.0, le=1.0, description="Share of requests that get the fault."
    )
    fault_services: list[str] = Field(
        default_factory=list, description="Services the fault and latency apply to; empty = all."
    )
    fault_seed: int = Field(default=6, description="Seed of the delay and fault draws (replay).")
    fault_hold_seconds: float = Field(
        default=60.0, gt=0, description="How long a 'timeout' fault holds the request unanswered."
    )
    fault_retry_after: int = Field(default=5, ge=0, description="Retry-After of an http_503 fault.")
    procedures_port: int = Field(default=8003, description="Port of the procedures API.")
    admin_port: int = Field(default=8004, description="Port of the admin console.")
    procedures_dir: Path | None = Field(
        default=None,
        description="Procedure catalogue; default: the repository's contracts/procedures.",
    )

    # --- webhooks (push delivery of the change feed): added by the webhooks work ---
    gateway_webhooks_file: Path | None = Field(
        default=None,
        description="YAML of webhook subscriptions ({webhooks: [{id, agency, procedure, "
        "purpose, url, ...}]}), loaded at start; cursors and the delivery log live in "
        "DATA_DIR/webhooks.db.",
    )
    gateway_webhook_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts besides loopback (127.0.0.0/8, ::1, localhost) webhooks may deliver "
        "to; '*' allows any.",
    )
    gateway_webhook_timeout: float = Field(
        default=5.0, gt=0, le=300, description="Seconds one delivery attempt may take."
    )
    gateway_webhook_backoff: float = Field(
        default=0.5, gt=0, description="Delay before the first retry; doubled per failure."
    )
    gateway_webhook_backoff_max: float = Field(
        default=60.0, gt=0, description="Longest delay between two attempts."
    )
    gateway_webhook_poll_interval: float = Field(
        default=0.5, gt=0, le=60, description="How often an idle subscription reads the feed."
    )
    gateway_webhook_log_size: int = Field(
        default=10_000, ge=10, description="Delivery attempts kept per subscription."
    )

    # --- admission control (services/common/admission.py) ---
    admission: bool = Field(
        default=True,
        description="Admission control on every service: beyond the adaptive limit, 503 "
        "SERVICE_OVERLOADED (429 AGENCY_SHARE_EXCEEDED at the gateway) with Retry-After.",
    )
    admission_initial_limit: int = Field(
        default=1000, ge=1, description="Starting limit in cost units (a batch item is a unit)."
    )
    admission_min_limit: int = Field(
        default=1000,
        ge=1,
        description="Lowest adaptive limit (lower it for tighter latency: refusals then start "
        "earlier, each costing about half a cheap lookup).",
    )
    admission_max_limit: int = Field(default=20_000, ge=1, description="Highest adaptive limit.")
    admission_target_ms: float = Field(
        default=25.0,
        gt=0,
        description="Event-loop delay (queueing before a request is seen) above which the "
        "limit shrinks.",
    )
    admission_tolerance: float = Field(
        default=2.0,
        ge=1.0,
        description="How much slower per cost unit than usual requests may become before the "
        "limit shrinks (Gradient2's tolerance).",
    )
    admission_agency_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Gateway: the share of the limit one agency (X-Road-Client) may hold.",
    )
    admission_retry_after: int = Field(
        default=1, ge=1, le=3600, description="Retry-After (seconds) of refused requests."
    )
    admission_queue_ms: float = Field(
        default=2.0,
        gt=0,
        description="Served with the admission protocol (sim06 up, the services' uvicorn): how "
        "long an admitted request may wait in the event loop before it starts; the number "
        "admitted at once adapts to it, and the rest is refused before the app sees it.",
    )

    # --- observability (metrics, traces): added by the observability work ---
    metrics: bool = Field(
        default=True,
        description="GET /metrics (Prometheus text format) on every service; off: nothing is "
        "mounted.",
    )
    tracing: bool = Field(
        default=False,
        description="OpenTelemetry spans per request and per hop, W3C traceparent on outgoing "
        "calls, trace_id in logs and problem+json (on by itself when OTLP_ENDPOINT is set; "
        "off: nothing is mounted).",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint (e.g. http://localhost:4318/v1/traces); "
        "setting it turns tracing on.",
    )
    tracing_sample_ratio: float = Field(
        default=1.0, ge=0.0, le=1.0, description="Share of new traces sampled (parent-based)."
    )

    # The procedures service's runner reaches these (docker-compose: through the load balancer);
    # None: http://HOST:GATEWAY_PORT and http://HOST:IDENTITY_PORT, as ``sim06 up`` serves them.
    procedures_gateway_url: str | None = Field(
        default=None, description="Gateway base URL the procedures runner calls."
    )
    procedures_identity_url: str | None = Field(
        default=None, description="Identity provider base URL the procedures runner calls."
    )

    @property
    def tracing_on(self) -> bool:
        """Whether traces are made (TRACING, or an OTLP endpoint to send them to)."""
        return self.tracing or bool(self.otlp_endpoint)

    @property
    def keys_dir(self) -> Path:
        """Where generated keys live (never committed)."""
        return self.data_dir / "keys"

    @property
    def database(self) -> Path:
        """Path of the SQLite population database."""
        return self.db_path if self.db_path is not None else self.data_dir / "population.db"
