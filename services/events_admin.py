"""``sim06 reset`` and ``sim06 snapshot``: the civil-status events of a database, from the shell.

The seeded population is never written; events live in an overlay, so a reset empties the
overlay (milliseconds at any population size) and the database answers as freshly seeded. A
running ``sim06 up`` sees the change at its next request. Snapshots are kept in the database.
"""

from __future__ import annotations

import re
import sys
import time

from sim06.mock_registry.store.base import CitizenStore
from sim06.services.common.settings import Settings

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _open(settings: Settings, url: str | None, name: str | None) -> CitizenStore | None:
    """The store of ``settings`` (or ``url``), or None after saying why not."""
    if name is not None and not _NAME.match(name):
        sys.stderr.write(f"snapshot names match {_NAME.pattern}\n")
        return None
    url = url or settings.database_url
    if url:
        from sim06.mock_registry.store.postgres import PostgresCitizenStore

        return PostgresCitizenStore(url, pool_size=1)
    if not settings.database.exists():
        sys.stderr.write(f"{settings.database} does not exist; run 'sim06 seed' first.\n")
        return None
    from sim06.mock_registry.store import SQLiteCitizenStore

    return SQLiteCitizenStore(settings.database)


def reset_events(settings: Settings, url: str | None, to: str | None) -> int:
    """Empty the overlay, or replace it with the snapshot ``to``; the exit status."""
    store = _open(settings, url, to)
    if store is None:
        return 2
    try:
        started = time.perf_counter()
        if to is None:
            store.load_events(None)
            what = "the seeded population"
        elif not store.restore_snapshot(to):
            known = ", ".join(store.snapshot_names()) or "none"
            sys.stderr.write(f"no snapshot named {to!r} (saved: {known})\n")
            return 1
        else:
            what = f"snapshot {to!r}"
        took = time.perf_counter() - started
        sys.stderr.write(f"reset to {what} in {took * 1000:.0f} ms ({store.count():,} citizens)\n")
        return 0
    finally:
        store.close()


def save_snapshot(settings: Settings, url: str | None, name: str) -> int:
    """Save the overlay under ``name``; the exit status."""
    store = _open(settings, url, name)
    if store is None:
        return 2
    try:
        store.save_snapshot(name)
        sys.stderr.write(f"saved snapshot {name!r} (feed head {store.feed_head()})\n")
        return 0
    finally:
        store.close()
