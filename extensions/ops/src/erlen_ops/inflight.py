"""The requests in flight: a gauge moved up and down around every request, summed over gunicorn's workers.

A prometheus-client :class:`~prometheus_client.Gauge` costs two locked writes
per request in multiprocess mode (about 4% of a hello-world request). This
gauge keeps the requests of this process in a list (``append`` and ``pop``
are atomic under the GIL, so threads need no lock) and, in multiprocess
mode, stores its length in 8 bytes of a file of prometheus-client's format
in ``PROMETHEUS_MULTIPROC_DIR``: one write of a double per change, which
prometheus-client's :class:`~prometheus_client.multiprocess.MultiProcessCollector`
reads and sums over the live workers like any ``livesum`` gauge.

The file is named ``gauge_livesum_<pid>-requests.db``: a ``livesum``
gauge's file, apart from the one prometheus-client writes for the process.
:func:`erlen_ops.gunicorn.child_exit` removes it when a worker exits, so a
dead worker leaves no request in flight behind.
"""

from __future__ import annotations

import mmap
import os
import threading
import typing as t
import weakref
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.registry import Collector

NAME = "erlen_http_requests_in_flight"
DOCUMENTATION = "HTTP requests being answered."

#: How many times a change is written again when other threads changed the count meanwhile (each retry means
#: another thread moved it, so this bound is never reached in practice).
_RETRIES = 16


def file_name(pid: int) -> str:
    """The name of the file of process ``pid``'s requests in flight, in ``PROMETHEUS_MULTIPROC_DIR``."""
    return f"gauge_livesum_{pid}-requests.db"


class RequestsInFlight(Collector):
    """The HTTP requests this process is answering; in multiprocess mode also written where every worker reads it.

    As a collector (registered in the app's own registry) it reports this process's count.

    :param folder: ``PROMETHEUS_MULTIPROC_DIR``, or ``None`` outside multiprocess mode.
    """

    def __init__(self, folder: str | None) -> None:
        #: One item per request in progress.
        self.requests: list[None] = []
        self.folder = folder
        # The count's 8 bytes in this process's file (opened at the first request of each process).
        self._value: memoryview[float] | None = None
        self._mapped: tuple[t.BinaryIO, mmap.mmap] | None = None
        self._opening = threading.Lock()  # the first requests of threads starting together open the file once
        if folder is not None:
            forget = weakref.WeakMethod(self._forget)
            # After a fork (gunicorn's preload), the worker writes a file of its own.
            os.register_at_fork(after_in_child=lambda: _call(forget))

    def enter(self) -> None:
        """A request starts."""
        requests = self.requests
        requests.append(None)
        value = self._value
        if value is not None:
            count = len(requests)
            value[0] = count
            if len(requests) != count:
                self._settle(value)
        elif self.folder is not None:
            try:
                self._settle(self._open())
            except OSError:
                requests.pop()  # the caller answers the request uncounted: it never leaves
                raise

    def leave(self) -> None:
        """A request has been answered."""
        requests = self.requests
        requests.pop()
        value = self._value
        if value is not None:
            count = len(requests)
            value[0] = count
            if len(requests) != count:
                self._settle(value)

    def publish(self) -> None:
        """Write this process's count (0 when idle), so that a scrape answered by a worker that has answered no
        request yet still shows the gauge."""
        if self.folder is not None:
            self._settle(self._value if self._value is not None else self._open())

    def _settle(self, value: memoryview[float]) -> None:
        # Another thread moved the count, and may have written before this thread's write: write again until the
        # count written is the count after the write.
        requests = self.requests
        for _ in range(_RETRIES):
            count = len(requests)
            value[0] = count
            if len(requests) == count:
                return

    def _open(self) -> memoryview[float]:
        with self._opening:
            return self._value if self._value is not None else self._open_file()

    def _open_file(self) -> memoryview[float]:
        assert self.folder is not None
        path = Path(self.folder) / file_name(os.getpid())
        key = mmap_key(NAME, NAME, [], [], DOCUMENTATION)
        # prometheus-client's own class lays the file out and places the value; then a mapping of our own
        # writes the value without its lock and bookkeeping.
        layout = MmapedDict(str(path))  # type: ignore[no-untyped-call]
        layout.write_value(key, 0.0, 0.0)  # type: ignore[no-untyped-call]
        layout.close()  # type: ignore[no-untyped-call]
        position = next(
            pos
            for found, _value, _timestamp, pos in MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
            if found == key
        )
        handle = path.open("r+b")
        mapped = mmap.mmap(handle.fileno(), 0)
        self._mapped = (handle, mapped)
        value: memoryview[float] = memoryview(mapped)[position : position + 8].cast("d")
        self._value = value
        return value

    def close(self) -> None:
        """Unmap and close this process's file (a later request opens it again): for tests and tools that make
        apps in one process, which would otherwise leave one mapping open per app."""
        with self._opening:
            value, mapped = self._value, self._mapped
            self._value = self._mapped = None
            if value is not None:
                value.release()
            if mapped is not None:
                handle, mapping = mapped
                mapping.close()
                handle.close()

    def _forget(self) -> None:
        # The parent's mapping stays open in the child (closing it would not touch the parent's file).
        self._value = None
        self._mapped = None
        self._opening = threading.Lock()  # another thread may have held it at the fork

    def collect(self) -> Iterator[Metric]:
        """This process's count, for the app's own registry (outside multiprocess mode)."""
        yield GaugeMetricFamily(NAME, DOCUMENTATION, value=len(self.requests))


def _call(method: weakref.WeakMethod[t.Callable[[], None]]) -> None:
    bound = method()
    if bound is not None:
        bound()


def remove_file(folder: str, pid: int) -> None:
    """Take the requests in flight of the exited process ``pid`` out of the sums."""
    try:
        os.remove(os.path.join(folder, file_name(pid)))
    except FileNotFoundError:
        pass
