"""Released contracts: frozen copies that later versions must stay compatible with.

``sim06 contract release VERSION`` copies ``contracts/openapi/*.yaml`` to
``contracts/released/VERSION/``: what agencies coded against at that version. ``sim06 contract
compat`` runs the breaking-change check (:mod:`services.contract.diff`) from the newest release
to the current contracts and fails on any breaking change, so CI refuses an incompatible API
before it is released. A release directory is never overwritten: a breaking change needs a new
major version, released on purpose.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sim06.services.contract.commands import Outcome, run_diff

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def version_key(name: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` of a release directory name such as ``1.0.0``, else None."""
    m = _VERSION.match(name)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def releases(root: Path) -> list[Path]:
    """The release directories under ``root``, oldest first (non-version names ignored)."""
    if not root.is_dir():
        return []
    found = [(key, p) for p in root.iterdir() if p.is_dir() and (key := version_key(p.name))]
    return [p for _, p in sorted(found)]


def release(version: str, contracts: Path, root: Path) -> Outcome:
    """Freeze the contracts in ``contracts`` as ``root/version``."""
    if version_key(version) is None:
        return Outcome(f"error: version {version!r} is not MAJOR.MINOR.PATCH", 2)
    target = root / version
    if target.exists():
        return Outcome(f"error: {target} exists; a released contract is never rewritten", 2)
    files = sorted(contracts.glob("*.yaml"))
    if not files:
        return Outcome(f"error: no contracts in {contracts}", 2)
    target.mkdir(parents=True)
    for path in files:
        shutil.copyfile(path, target / path.name)
    return Outcome(f"released {len(files)} contracts as {target}", 0)


def compat(contracts: Path, root: Path) -> Outcome:
    """Breaking changes from the newest release under ``root`` to ``contracts`` (exit 1 if any)."""
    found = releases(root)
    if not found:
        return Outcome(f"error: no released contracts under {root}", 2)
    latest = found[-1]
    outcome = run_diff(latest, contracts)
    return Outcome(f"against {latest}:\n{outcome.text}", outcome.status)
