"""Where a class's work runs: threads of this machine (`LocalPool`) or a Dask cluster (`DaskPool`).

Both take `StudentWork` and yield each student's answer as it arrives, in plain data; the
coordinator (`grading.classwork.autograde_class`) checks each answer and puts it through nbgrader. A
student whose work fails on a worker (a worker lost for good, an answer of the wrong shape) is
yielded with the exception, and the coordinator grades that student itself.

A Dask cluster is reached only over TLS with the course's certificates (`grading.execution.cluster_security`):
the scheduler then admits only the course's workers, and every answer comes from one of them. A
scheduler without TLS runs anyone's code as its workers' user: it is refused unless the instructor
allows it (`--insecure-cluster`, to try the kit on one machine).
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice
from pathlib import Path

from grading.errors import PoolUnavailable
from grading.execution.work import StudentWork
from grading.execution.worker import Worker, perform_on_dask

Answer = tuple[StudentWork, "dict | BaseException"]


def ahead(workers: int) -> int:
    """How many students' works a pool holds at once: one running and one waiting per worker. A
    class of 10,000 is prepared as the workers go, not all before the first answer."""
    return 2 * max(1, workers)


def default_workers() -> int:
    """Every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class LocalPool:
    """`workers` threads, each with a `Worker` of its own (warm sandboxes, its own user id)."""

    def __init__(self, workers: int, warm: bool = True):
        self.workers = workers
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all = [Worker(warm=warm, name=f"worker {number}") for number in range(1, workers + 1)]
        for worker in self._all:
            self._idle.put(worker)
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grading-worker")

    def _perform(self, work: StudentWork) -> dict:
        worker = self._idle.get()
        try:
            return worker.perform(work)
        finally:
            self._idle.put(worker)

    def answers(self, works: Iterable[StudentWork]) -> Iterator[Answer]:
        """Each work's answer as soon as it is ready; at most `workers` students run at once. `works`
        is drawn as the workers take it: at most `ahead(workers)` works run or wait, besides the
        answers being given back."""
        works = iter(works)
        pending: dict[Future, StudentWork] = {}

        def top_up() -> None:
            for work in islice(works, ahead(self.workers) - len(pending)):
                pending[self._threads.submit(self._perform, work)] = work

        top_up()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            finished = [(future, pending.pop(future)) for future in done]
            top_up()  # the workers go on while the coordinator takes these answers
            for future, work in finished:
                error = future.exception()
                yield work, (error if error is not None else future.result())

    def describe(self) -> str:
        return f"{self.workers} local worker(s)"

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        for worker in self._all:
            worker.close()


def dask_security(address: str, certificates: Path, insecure: bool = False):
    """How the coordinator reaches the scheduler at `address`: Dask's TLS settings with the course's
    certificates in `certificates`, or None for an address without TLS that `insecure` allows."""
    from grading.execution.cluster_security import CertificateError, coordinator_security

    if address.startswith("tls://"):
        try:
            return coordinator_security(certificates)
        except (CertificateError, ImportError) as error:
            raise PoolUnavailable(str(error)) from None
    if not insecure:
        raise PoolUnavailable(
            f"refusing the scheduler {address}: without TLS anyone who reaches it can run code on"
            " its workers and change grades; make the course's certificates with `python -m grading"
            " cluster-certs` and use --scheduler tls://HOST:PORT (--insecure-cluster: only to try on"
            " one machine)"
        )
    return None


class DaskPool:
    """A Dask distributed cluster: each student's work is one task, run by `perform_on_dask` on a
    Dask worker. A worker lost mid-task has its tasks run again elsewhere by the scheduler.

    `security` is from `dask_security`: None only for a cluster the instructor chose to reach
    without authentication."""

    def __init__(self, address: str, security, connect_seconds: float = 30):
        try:
            from distributed import Client
        except ImportError:
            raise PoolUnavailable("--scheduler needs the 'distributed' package: pip install distributed") from None
        try:
            self._client = Client(address, timeout=connect_seconds, security=security)
        except OSError as error:
            raise PoolUnavailable(
                f"no Dask scheduler answered at {address} ({error}): start it and its workers"
                " as `python -m grading cluster-certs` prints"
            ) from None
        self.address = address
        self.authenticated = security is not None

    def _submit(self, work: StudentWork):
        return self._client.submit(
            perform_on_dask,
            work.to_wire(),
            pure=False,
            key=f"grade-{work.lab}-{work.student}-{os.urandom(4).hex()}",
        )

    def _threads(self) -> int:
        """The cluster's worker threads now (workers that join later share the same window)."""
        return sum(
            int(worker.get("nthreads", 1)) for worker in self._client.scheduler_info().get("workers", {}).values()
        )

    def answers(self, works: Iterable[StudentWork]) -> Iterator[Answer]:
        """Each work's answer as soon as it is ready; `works` is drawn `ahead` of the cluster's threads."""
        from distributed import as_completed

        works = iter(works)
        pending = {}
        window = ahead(self._threads())
        arriving = as_completed()
        for work in islice(works, window):
            future = self._submit(work)
            pending[future.key] = work
            arriving.add(future)
        for future in arriving:
            work = pending.pop(future.key)
            for following in islice(works, window - len(pending)):
                queued = self._submit(following)
                pending[queued.key] = following
                arriving.add(queued)
            try:
                yield work, future.result()
            except BaseException as error:  # noqa: BLE001 - the coordinator grades this student itself
                yield work, error
            finally:
                future.release()

    def describe(self) -> str:
        workers = len(self._client.scheduler_info().get("workers", {}))
        return (
            f"the Dask cluster at {self.address} ({workers} worker(s)"
            f"{'' if self.authenticated else ', without authentication'})"
        )

    def close(self) -> None:
        self._client.close()
