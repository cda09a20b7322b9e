"""Generating a population's shards in worker processes, merged in shard order.

Each shard is generated on its own (mock_registry.shards), so ``workers`` only decides how many
run at once: one worker or eight give the same rows in the same order. A worker pickles its
shard, batch by batch, into a file of a temporary directory and returns the path; the parent
reads it back and removes it. At most two shards per worker are in flight (about 60 MB of
file each), so memory and disk stay bounded while the caller stores the rows. Why files: the
same 60 MB as the pool's result went through a pipe in 64 KB reads and writes plus three more
copies, about 4 s of the parent's CPU in a 1M seed (mostly in the kernel), and each worker
held its shard's pickles (peak 205 MB a worker, 72 MB now). Workers are spawned (not forked),
so a script that seeds with several workers must guard its entry point with
``if __name__ == "__main__":`` (the multiprocessing rule).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date

from sim06.mock_registry import personas
from sim06.mock_registry.population import PopulationGenerator
from sim06.mock_registry.shards import SHARD_SIZE, Shard, plan
from sim06.mock_registry.store.base import CitizenRow

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
    with open(path, "wb") as out:
        for batch in gen.generate(shard.count, BATCH):
            pickle.dump(batch, out, pickle.HIGHEST_PROTOCOL)
    return path


def read_shard_file(path: str) -> Iterator[list[CitizenRow]]:
    """The batches :func:`shard_file` wrote, in order; the file is removed once read."""
    with open(path, "rb") as f:
        while f.peek(1):
            rows: list[CitizenRow] = pickle.load(f)  # noqa: S301 (our workers' file)
            yield rows
    os.unlink(path)


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
    workers = min(workers, len(shards))
    if workers <= 1:  # in this process, batch by batch: no shard is held whole
        for shard in shards:
            yield from _generator(seed, as_of, shard).generate(shard.count, BATCH)
        return
    # spawn, not fork: the caller may run threads (a progress bar's monitor, a COPY writer).
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    files = tempfile.TemporaryDirectory(prefix="sim06-shards-")
    try:
        waiting = iter(shards)
        pending: deque[Future[str]] = deque()
        for shard in waiting:
            pending.append(pool.submit(shard_file, seed, as_of, shard, files.name))
            if len(pending) == 2 * workers:
                break
        while pending:
            done = pending.popleft().result()
            following = next(waiting, None)
            if following is not None:
                pending.append(pool.submit(shard_file, seed, as_of, following, files.name))
            yield from read_shard_file(done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        files.cleanup()  # after the workers stopped: no file is being written
