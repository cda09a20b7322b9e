"""Generating a population's shards in worker processes, merged in shard order.

Each shard is generated on its own (mock_registry.shards), so ``workers`` only decides how many
run at once: one worker or eight give the same rows in the same order. A worker pickles its
shard, batch by batch, into a file of a temporary directory and returns the path; the parent
reads it back and removes it. At most two shards per worker are in flight (about 60 MB of
file each), so memory and disk stay bounded while the caller stores the rows. Why files: the
same 60 MB as the pool's result went through a pipe in 64 KB reads and writes plus three more
copies, about 4 s of the parent's CPU in a 1M seed (mostly in the kernel), and each worker
held its shard's pickles (peak 205 MB a worker, 72 MB now). On Linux, a process running no
other thread forks its workers (:func:`_context`); otherwise they are spawned, so a script that
seeds with several workers must guard its entry point with ``if __name__ == "__main__":`` (the
multiprocessing rule).

Into a SQLite file there is no hand-over at all (:func:`population_into`): each worker appends
its shard to the store's file itself, under the ids the rows get, once the shards before it are
in (a turn shared by the workers), and returns only the ids of the rows that may become
organisations' representatives. The parent then neither receives, decodes nor copies a row.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing, contextmanager
from datetime import date
from functools import partial
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from sim06.mock_registry import personas, representatives
from sim06.mock_registry.population import PopulationGenerator
from sim06.mock_registry.shards import SHARD_SIZE, Shard, plan
from sim06.mock_registry.store.base import CitizenRow
from sim06.mock_registry.store.sqlite_shards import append_shard

T = TypeVar("T")

BATCH = 5000  # rows per store.add: one transaction or COPY each


def default_workers() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _generator(seed: int, as_of: date, shard: Shard) -> PopulationGenerator:
    return PopulationGenerator(
        seed, as_of, personas.reserved_pins(), personas.reserved_cmnds(), shard=shard
    )


def shard_file(seed: int, as_of: date, shard: Shard, directory: str) -> str:
    """Every row of one shard, pickled batch after batch into a file of ``directory`` (run in
    a worker process); returns the file's path."""
    gen = _generator(seed, as_of, shard)
    path = os.path.join(directory, f"shard-{shard.index}.pickle")
    with _no_cyclic_gc(), open(path, "wb") as out:
        for batch in gen.generate(shard.count, BATCH):
            pickle.dump(batch, out, pickle.HIGHEST_PROTOCOL)
    return path


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off while a shard is generated: there is no cyclic garbage to find
    (households are freed by reference counting; population's _release breaks their cycles),
    yet its passes cost about 3 % of a shard's CPU."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class SeedStopped(RuntimeError):
    """Another shard failed or the seed was abandoned: this one is not appended."""


class Turns:
    """Shard order across processes: shard ``i`` appends once shard ``i - 1`` has."""

    def __init__(self, ctx: BaseContext) -> None:
        self.cond = ctx.Condition()
        self.next: Any = ctx.RawValue("i", 0)  # the shard whose turn it is; -1: stopped

    def wait(self, index: int) -> None:
        """Block until it is shard ``index``'s turn."""
        with self.cond:
            while self.next.value != index:
                if self.next.value < 0:
                    raise SeedStopped(f"shard {index} not appended: the seed stopped")
                self.cond.wait(1.0)

    def done(self, index: int, *, ok: bool) -> None:
        """Shard ``index`` is in (or failed, which stops every later one)."""
        with self.cond:
            if self.next.value == index:  # not stopped meanwhile
                self.next.value = index + 1 if ok else -1
            self.cond.notify_all()

    def stop(self) -> None:
        """No later shard appends (waiting workers raise :class:`SeedStopped`)."""
        with self.cond:
            self.next.value = -1
            self.cond.notify_all()


_turns: Turns | None = None  # a worker's, from the pool's initializer


def _set_turns(turns: Turns | None) -> None:
    global _turns
    _turns = turns


def shard_into(seed: int, as_of: date, shard: Shard, *, database: str, first_id: int) -> list[int]:
    """Generate one shard and append it to the SQLite file ``database`` in its turn, the
    population's first row numbered ``first_id`` (run in a worker); returns the ids of the rows
    a representative may be picked from (:mod:`representatives`)."""
    assert _turns is not None, "run through population_into"
    born_by = representatives.born_by(as_of)
    qualifying: list[int] = []
    batches: list[list[CitizenRow]] = []  # the shard, held until its turn (~70 MB)
    with _no_cyclic_gc():
        n = first_id + shard.first
        for batch in _generator(seed, as_of, shard).generate(shard.count, BATCH):
            qualifying.extend(representatives.candidates(batch, born_by, n))
            n += len(batch)
            batches.append(batch)
    _turns.wait(shard.index)
    ok = False
    try:
        append_shard(database, batches, first_id + shard.first)
        ok = True
    finally:
        _turns.done(shard.index, ok=ok)
    return qualifying


def read_shard_file(path: str) -> Iterator[list[CitizenRow]]:
    """The batches :func:`shard_file` wrote, in order; the file is removed once read."""
    with open(path, "rb") as f:
        while f.peek(1):
            rows: list[CitizenRow] = pickle.load(f)  # noqa: S301 (our workers' file)
            yield rows
    os.unlink(path)


def parallel(size: int, workers: int, shard_size: int = SHARD_SIZE) -> bool:
    """True when the population is generated in worker processes (more than one shard)."""
    return min(workers, len(plan(size, shard_size))) > 1


def population_batches(
    seed: int,
    size: int,
    as_of: date,
    *,
    workers: int = 1,
    shard_size: int = SHARD_SIZE,
) -> Generator[list[CitizenRow], None, None]:
    """The rows of ``size`` citizens in batches of at most :data:`BATCH`, in shard order
    (closing it early stops the workers and removes their files)."""
    shards = plan(size, shard_size)
    if not parallel(size, workers, shard_size):  # in this process: no shard is held whole
        for shard in shards:
            yield from _generator(seed, as_of, shard).generate(shard.count, BATCH)
        return
    files = tempfile.TemporaryDirectory(prefix="sim06-shards-")
    try:
        work = partial(shard_file, seed, as_of, directory=files.name)
        with closing(_in_workers(work, shards, workers)) as paths:
            for _, path in paths:
                yield from read_shard_file(path)
    finally:
        files.cleanup()  # after the workers stopped: no file is being written


def population_into(
    database: str,
    seed: int,
    size: int,
    as_of: date,
    *,
    workers: int,
    first_id: int,
    shard_size: int = SHARD_SIZE,
) -> Generator[tuple[Shard, list[int]], None, None]:
    """Append ``size`` citizens to the SQLite file ``database`` (its ``citizens`` table), the
    first numbered ``first_id``, from ``workers`` processes in shard order; yields each shard
    once it is in, with the ids of its rows that may be representatives (closing it early
    stops the workers; a shard not yet in is not appended)."""
    ctx = _context()
    turns = Turns(ctx)
    work = partial(shard_into, seed, as_of, database=database, first_id=first_id)
    with closing(_in_workers(work, plan(size, shard_size), workers, ctx, turns)) as done:
        yield from done


def _context() -> BaseContext:
    """How worker processes start: forked where that is safe, else spawned.

    A fork copies this process as it is: no interpreter to start, nothing to import, 0.2-0.3 s
    sooner at the first shard (a 1M seed's critical path). It is safe only where no other
    thread could hold a lock at that instant (a progress bar's monitor, a COPY writer), and
    on Linux (macOS's system libraries are not fork-safe)."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _in_workers(
    task: Callable[[Shard], T],
    shards: list[Shard],
    workers: int,
    ctx: BaseContext | None = None,
    turns: Turns | None = None,
) -> Generator[tuple[Shard, T], None, None]:
    """``task(shard)`` of every shard in ``workers`` processes started by ``ctx`` (default:
    :func:`_context`; sharing ``turns``), results in shard order; at most two shards a worker
    in flight."""
    pool = ProcessPoolExecutor(
        min(workers, len(shards)),
        mp_context=ctx or _context(),
        initializer=_set_turns,
        initargs=(turns,),
    )
    try:
        waiting = iter(shards)
        pending: deque[tuple[Shard, Future[T]]] = deque()
        for shard in waiting:
            pending.append((shard, pool.submit(task, shard)))
            if len(pending) == 2 * workers:
                break
        while pending:
            shard, future = pending.popleft()
            result = future.result()
            following = next(waiting, None)
            if following is not None:
                pending.append((following, pool.submit(task, following)))
            yield shard, result
    finally:
        if turns is not None:
            turns.stop()  # workers waiting for a turn that will not come give up
        pool.shutdown(wait=True, cancel_futures=True)
