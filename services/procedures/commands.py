"""Command-line actions for ``services/cli.py``.

sim06 procedure list                                  → :func:`cmd_list`
sim06 procedure run KEY --persona P [--role r=P] [--param n=v] [--request-id-prefix ID]
                                                      → :func:`cmd_run`
sim06 procedure report [--profile typical] [--out D]  → :func:`cmd_report`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import httpx

from sim06.services.common.latency import ProfileBook
from sim06.services.common.settings import Settings
from sim06.services.procedures.catalogue import Catalogue, catalogue_dir
from sim06.services.procedures.clients import gateway_url, in_process_runner, live_runner
from sim06.services.procedures.report import run_text, write_report
from sim06.services.procedures.runner import RunError, RunResult


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_list(settings: Settings) -> int:
    """Print the catalogue: key, code, level, documents eliminated, names."""
    catalogue = Catalogue.load(catalogue_dir(settings))
    _out(f"{'KEY':34} {'CODE':20} {'LEVEL':15} DOCS  NAME")
    for p in catalogue.all():
        gone = sum(d.status == "replaced" for d in p.documents)
        _out(f"{p.key:34} {p.code:20} {p.level:15} {gone}/{len(p.documents):<3} "
             f"{p.name_vi} — {p.name_en}")  # fmt: skip
    return 0


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise RunError(what, f"{item!r} is not NAME=VALUE")
        pairs[name] = value
    return pairs


def format_run(result: RunResult) -> str:
    """The run as the CLI prints it (:func:`services.procedures.report.run_text`)."""
    return run_text(result)


async def _run(settings: Settings, args: argparse.Namespace) -> RunResult:
    catalogue = Catalogue.load(catalogue_dir(settings))
    procedure = catalogue.find(args.procedure)
    if procedure is None:
        raise RunError("procedure", f"unknown procedure {args.procedure!r}; see 'procedure list'")
    roles, params = _pairs(args.role, "role"), _pairs(args.param, "param")
    connect = in_process_runner if args.in_process else live_runner
    async with connect(settings) as runner:
        return await runner.run(
            procedure, args.persona, roles, params, args.profile, args.request_id_prefix
        )


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one procedure; exit 0 if it decided (approved, rejected, referred), 1 on error."""
    try:
        result = asyncio.run(_run(settings, args))
    except RunError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except httpx.ConnectError:
        sys.stderr.write(
            f"error: no gateway at {gateway_url(settings)}; start 'sim06 up' or pass --in-process\n"
        )
        return 2
    _out(json.dumps(result.as_dict(), ensure_ascii=False) if args.json else format_run(result))
    return 1 if result.decision == "error" else 0


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    """Write the Markdown/HTML report of the catalogue under a latency profile."""
    book = ProfileBook.load(settings.latency_profiles_file)
    try:
        book.resolve(args.profile)
    except KeyError:
        sys.stderr.write(f"error: unknown profile {args.profile!r}; use {book.names()}\n")
        return 2
    catalogue = Catalogue.load(catalogue_dir(settings))
    for path in write_report(Path(args.out), catalogue, book, args.profile, args.runs, args.seed):
        _out(str(path))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``procedure list|run|report`` to the ``sim06`` parser."""
    p = sub.add_parser("procedure", help="administrative procedures without paper")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="the procedure catalogue")
    q = actions.add_parser("run", help="run a procedure through identity and the gateway")
    q.add_argument("procedure", help="key or code (see 'procedure list')")
    q.add_argument("--persona", required=True, help="persona key or PIN of the applicant")
    q.add_argument("--role", action="append", default=[], help="ROLE=PERSONA (repeatable)")
    q.add_argument("--param", action="append", default=[], help="NAME=VALUE (repeatable)")
    q.add_argument("--profile", help="latency profile sent as X-Sim-Latency-Profile")
    q.add_argument(
        "--request-id-prefix",
        help="run id (default: random): the writes' X-MaYeuCau and generated names derive from "
        "it, so repeating a run with the same id replays its writes instead of writing twice",
    )
    q.add_argument("--in-process", action="store_true", help="no server: build the services here")
    q.add_argument("--json", action="store_true", help="print the run as JSON")
    q = actions.add_parser("report", help="write the Markdown and HTML report")
    q.add_argument("--profile", default="typical", help="latency profile (default typical)")
    q.add_argument("--out", default="procedure-report", help="output directory")
    q.add_argument("--runs", type=int, default=2000, help="simulated runs per procedure")
    q.add_argument("--seed", type=int, default=6, help="seed of the simulated runs")
    p.set_defaults(func=dispatch)


def dispatch(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.action == "list":
        return cmd_list(settings)
    if args.action == "run":
        return cmd_run(settings, args)
    return cmd_report(settings, args)


__all__ = ["add_parser", "cmd_list", "cmd_report", "cmd_run", "dispatch", "format_run"]
