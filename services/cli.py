"""The ``sim06`` command: seed, export, reset, snapshot, personas, up, contract.

Settings come from one ``Settings`` object (environment prefix ``SIM06_``); flags override it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sim06.services.common.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    db = getattr(args, "db", None)
    args.db_url = db if db and db.startswith(("postgresql://", "postgres://")) else None
    args.db_path = Path(db) if db and not args.db_url else None
    overrides = {}
    names = ("seed", "population_size", "as_of", "db_path", "host", "registry_port")
    for name in (*names, "identity_port", "gateway_port"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def cmd_seed(args: argparse.Namespace) -> int:
    """Seed a population database (personas + ``--size`` generated citizens)."""
    from sim06.services.seeding import seed_database

    settings = _settings(args)
    url = args.db_url or settings.database_url
    if url:
        from sim06.mock_registry.store.postgres import seed_postgres
        from sim06.services.seeding import progress_bar

        with progress_bar(settings.population_size, enabled=not args.quiet) as advance:
            result = seed_postgres(
                url,
                seed=settings.seed,
                size=settings.population_size,
                as_of=settings.as_of,
                replace=args.force,
                progress=advance,
                workers=args.workers,
            )
        if result is None:
            _err("PostgreSQL already holds this population (same seed, size and as-of date).")
        else:
            info, seconds = result
            _err(
                f"seeded {info.size + info.personas:,} citizens into PostgreSQL in {seconds:.1f} s"
            )
        return 0
    path = settings.database
    if path.exists():
        if not args.force:
            _err(f"{path} exists; pass --force to replace it.")
            return 2
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    info, seconds = seed_database(settings, progress=not args.quiet, workers=args.workers)
    from sim06.mock_registry.personas import listed

    # The persona records include relatives no table lists; say how many `sim06 personas` shows.
    _err(
        f"seeded {info.size + info.personas:,} citizens ({info.personas} persona records, "
        f"{len(listed())} listed by 'sim06 personas') into {path} "
        f"in {seconds:.1f} s (seed {info.seed}, as of {info.as_of})"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write every citizen, sorted by PIN, as JSON lines or CSV."""
    from sim06.services.export import export

    settings = _settings(args)
    if not settings.database.exists():
        _err(f"{settings.database} does not exist; run 'sim06 seed' first.")
        return 2
    if args.output in (None, "-"):
        export(settings.database, sys.stdout.buffer, args.format)
        sys.stdout.flush()
    else:
        with open(args.output, "wb") as fh:
            export(settings.database, fh, args.format)
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    """Drop the civil-status events (back to the seeded population), or load a snapshot."""
    from sim06.services.events_admin import reset_events

    return reset_events(_settings(args), args.db_url, args.to)


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Save the state after events under a name (sim06 reset --to NAME brings it back)."""
    from sim06.services.events_admin import save_snapshot

    return save_snapshot(_settings(args), args.db_url, args.name)


def cmd_personas(args: argparse.Namespace) -> int:
    """Print the test personas."""
    from sim06.services.persona_table import personas_json, personas_table

    _out(personas_json() if args.json else personas_table())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Seed the default population if absent, then serve every service on localhost."""
    from sim06.services.serve import serve_all

    settings = _settings(args)
    if args.backend == "postgres":
        from sim06.services.serve import embedded_settings
        from sim06.services.serve_replicas import serve_replicas

        url = args.db_url or settings.database_url
        redis = args.redis or settings.redis_url
        if not url or not redis:
            _err("--backend postgres needs --db postgresql://... and --redis redis://...")
            return 2
        return serve_replicas(embedded_settings(settings), url, redis, args.replicas)
    return asyncio.run(serve_all(settings))


def cmd_contract(args: argparse.Namespace) -> int:
    """Write, check, diff the published OpenAPI contracts, or report a client's coverage."""
    from sim06.services.contracts import check_contracts, write_contracts

    if args.action in ("release", "compat"):
        from sim06.services.contract.release import compat, release

        contracts, root = Path(args.dir), Path(args.released)
        if args.action == "release":
            outcome = release(args.version, contracts, root)
        else:
            outcome = compat(contracts, root)
        (_err if outcome.status == 2 else _out)(outcome.text)
        return outcome.status
    if args.action in ("diff", "coverage"):
        from sim06.services.contract.commands import run_coverage, run_diff

        if args.action == "diff":
            outcome = run_diff(Path(args.old), Path(args.new))
        else:
            outcome = run_coverage(
                args.url, args.journal, args.contract, junit=args.junit, json_out=args.json,
                gaps=args.gaps, fail_under=args.fail_under,
            )  # fmt: skip
        (_err if outcome.status == 2 else _out)(outcome.text)
        return outcome.status
    from sim06.services.gateway.soap_schema import check_documents, write_documents

    directory, soap_dir = Path(args.dir), Path(args.soap_dir)  # OpenAPI; WSDL and XSDs
    if args.action == "write":
        for path in [*write_contracts(directory), *write_documents(soap_dir)]:
            _err(f"wrote {path}")
        return 0
    drift = check_contracts(directory) + check_documents(soap_dir)
    for line in drift:
        _err(line)
    return 1 if drift else 0


def cmd_keys(args: argparse.Namespace) -> int:
    """Rotate the identity provider's signing key, or export the trust anchors."""
    settings = _settings(args)
    if args.action == "agency-cert":
        from sim06.services.gateway.mtls import issue_demo_agency_cert

        if not args.args or len(args.args) > 2:
            _err("usage: sim06 keys agency-cert CLIENT_ID [DIR]")
            return 2
        client_id, target = args.args[0], (args.args[1:] or ["agency-certs"])[0]
        try:
            paths = issue_demo_agency_cert(settings, client_id, Path(target))
        except KeyError:
            _err(f"no agency with client id {client_id!r}")
            return 2
        for path in paths:
            _out(str(path))
        return 0
    if args.action == "rotate":
        from sim06.services.identity import rotate_identity_key

        key = rotate_identity_key(settings, args.alg)
        _out(f"new identity signing key {key.kid} ({key.alg}); the old one stays in the JWKS")
        return 0
    import json

    from sim06.mock_registry.pki import Pki
    from sim06.services.common.keys import KeyStore
    from sim06.services.identity.signing import identity_keys_dir

    out = Path((args.args or ["trust-anchors"])[0])
    out.mkdir(parents=True, exist_ok=True)
    Pki(settings.keys_dir / "pki").export(out)
    chip = KeyStore(settings.keys_dir / "chip", alg=settings.chip_attestation_alg)
    (out / "chip-jwks.json").write_text(json.dumps(chip.jwks(), indent=2), "utf-8")
    identity = KeyStore(identity_keys_dir(settings), alg=settings.identity_alg)
    (out / "identity-jwks.json").write_text(json.dumps(identity.jwks(), indent=2), "utf-8")
    # Also creates the gateway's signing key, so that several gateway workers share one.
    gateway = KeyStore(settings.keys_dir / "gateway", alg="ES256")
    (out / "gateway-jwks.json").write_text(json.dumps(gateway.jwks(), indent=2), "utf-8")
    for path in sorted(out.iterdir()):
        _out(str(path))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Verify the gateway's audit log against its signed tree heads (edits, truncation,
    re-hashing, swaps: the first bad record)."""
    from sim06.services.audit.commands import audit_verify

    settings = _settings(args)
    file = Path(args.file) if args.file else None
    # A log file named alone lies in its data directory (DATA_DIR/audit.db): keys and heads too.
    data_dir = args.data_dir or (file.parent if file else None)
    if data_dir:
        settings = settings.model_copy(update={"data_dir": Path(data_dir)})
    return audit_verify(settings, file, Path(args.checkpoints) if args.checkpoints else None)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sim06``."""
    parser = argparse.ArgumentParser(prog="sim06", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db",
            dest="db",
            help="SQLite file (default .sim06/population.db) or postgresql://user:pw@host/db",
        )

    p = sub.add_parser("seed", help=cmd_seed.__doc__)
    p.add_argument(
        "--size", dest="population_size", type=int, help="generated citizens (default 100000)"
    )
    p.add_argument("--seed", type=int, help="random seed (default 6)")
    p.add_argument("--as-of", dest="as_of", type=date.fromisoformat, help="as-of date (YYYY-MM-DD)")
    p.add_argument("--force", action="store_true", help="replace an existing database")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--workers",
        type=int,
        help="generator processes (default: every core; the population is the same)",
    )
    db_option(p)
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("export", help=cmd_export.__doc__)
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    db_option(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("reset", help=cmd_reset.__doc__)
    p.add_argument("--to", help="a snapshot name (default: the seeded population)")
    db_option(p)
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser("snapshot", help=cmd_snapshot.__doc__)
    p.add_argument("name", help="letters, digits, '.', '_' or '-' (at most 64)")
    db_option(p)
    p.set_defaults(func=cmd_snapshot)

    p = sub.add_parser("personas", help=cmd_personas.__doc__)
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(func=cmd_personas)

    p = sub.add_parser("up", help=cmd_up.__doc__)
    p.add_argument("--size", dest="population_size", type=int, help="population if seeding")
    p.add_argument("--seed", type=int)
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--registry-port", dest="registry_port", type=int)
    p.add_argument("--identity-port", dest="identity_port", type=int)
    p.add_argument("--gateway-port", dest="gateway_port", type=int)
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--redis", help="Redis URL shared by the replicas (with --backend postgres)")
    p.add_argument("--replicas", type=int, default=2, help="processes per service (postgres)")
    db_option(p)
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("keys", help=cmd_keys.__doc__)
    p.add_argument("action", choices=("rotate", "export", "agency-cert"))
    p.add_argument(
        "args", nargs="*", help="export [DIR]; agency-cert CLIENT_ID [DIR]", metavar="ARG"
    )
    p.add_argument("--alg", choices=("RS256", "ES256"), help="rotate: algorithm of the new key")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("audit", help=cmd_audit.__doc__)
    p.add_argument("action", choices=("verify",))
    p.add_argument("--file", help="audit database (default DATA_DIR/audit.db)")
    p.add_argument(
        "--data-dir", dest="data_dir", help="data directory (default: the file's, SIM06_DATA_DIR)"
    )
    p.add_argument(
        "--checkpoints", help="signed tree heads (default DATA_DIR/audit-checkpoints/<log>.jsonl)"
    )
    p.set_defaults(func=cmd_audit)

    from sim06.services.procedures.commands import add_parser as add_procedure_parser

    add_procedure_parser(sub)

    p = sub.add_parser("contract", help=cmd_contract.__doc__)
    actions = p.add_subparsers(dest="action", required=True)
    for name, text in (("write", "regenerate the contracts"), ("check", "fail on drift")):
        q = actions.add_parser(name, help=text)
        q.add_argument("--dir", default="contracts/openapi")
        q.add_argument("--soap-dir", default="contracts/soap", help="the SOAP WSDL and XSDs")
        q.set_defaults(func=cmd_contract)
    q = actions.add_parser("diff", help="breaking changes from OLD to NEW; exit 1 if any")
    q.add_argument("old", help="OpenAPI file or directory (YAML/JSON)")
    q.add_argument("new", help="OpenAPI file or directory (YAML/JSON)")
    q.set_defaults(func=cmd_contract)
    q = actions.add_parser("release", help="freeze the contracts as released VERSION")
    q.add_argument("version", help="MAJOR.MINOR.PATCH")
    q = actions.add_parser(
        "compat", help="breaking changes since the newest release; exit 1 if any"
    )
    for q in (actions.choices["release"], actions.choices["compat"]):
        q.add_argument("--dir", default="contracts/openapi", help="the current contracts")
        q.add_argument("--released", default="contracts/released", help="the released ones")
        q.set_defaults(func=cmd_contract)
    q = actions.add_parser("coverage", help="what a client exercised of the contract (journal)")
    q.add_argument("--url", action="append", default=[], help="a live service (repeatable)")
    q.add_argument("--journal", action="append", type=Path, default=[], help="saved journal")
    q.add_argument("--contract", action="append", type=Path, default=[], help="its contract")
    q.add_argument("--junit", type=Path, help="write JUnit XML here")
    q.add_argument("--json", type=Path, help="write the items as JSON here")
    q.add_argument("--gaps", choices=("skipped", "failure"), default="skipped",
                   help="JUnit status of never-exercised items (default skipped)")  # fmt: skip
    q.add_argument("--fail-under", type=float, help="exit 1 below this operation coverage (%%)")
    q.set_defaults(func=cmd_contract)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sim06`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
