"""Generating a population's shards in worker processes, merged in shard order.

Each shard is generated on its own (mock_registry.shards), so ``workers`` only decides how many
run at once: one worker or eight give the same rows in the same order. At most two shards per
worker are in flight, so memory stays bounded while the caller stores the rows. Workers are
spawned (not forked), so a script that seeds with several workers must guard its entry point
with ``if __name__ == "__main__":`` (the multiprocessing rule).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Iterator
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


def shard_batches(seed: int, as_of: date, shard: Shard) -> list[bytes]:
    """Every row of one shard, as pickled batches (run in a worker process): one message
    of about 60 MB, unpickled batch by batch by the parent."""
    gen = _generator(seed, as_of, shard)
    return [
        pickle.dumps(batch, pickle.HIGHEST_PROTOCOL) for batch in gen.generate(shard.count, BATCH)
    ]


def population_batches(
    seed: int,
    size: int,
    as_of: date,
    *,
    workers: int = 1,
    shard_size: int = SHARD_SIZE,
) -> Iterator[list[CitizenRow]]:
    """The rows of ``size`` citizens in batches of at most :data:`BATCH`, in shard order."""
    shards = plan(size, shard_size)
    workers = min(workers, len(shards))
    if workers <= 1:  # in this process, batch by batch: no shard is held whole
        for shard in shards:
            yield from _generator(seed, as_of, shard).generate(shard.count, BATCH)
        return
    # spawn, not fork: the caller may run threads (a progress bar's monitor, a COPY writer).
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        waiting = iter(shards)
        pending: deque[Future[list[bytes]]] = deque()
        for shard in waiting:
            pending.append(pool.submit(shard_batches, seed, as_of, shard))
            if len(pending) == 2 * workers:
                break
        while pending:
            done = pending.popleft().result()
            following = next(waiting, None)
            if following is not None:
                pending.append(pool.submit(shard_batches, seed, as_of, following))
            while done:
                rows: list[CitizenRow] = pickle.loads(done.pop(0))  # noqa: S301 (our workers)
                yield rows
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
