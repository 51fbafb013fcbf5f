"""Host readings through psutil: CPU total and per core, load, memory, swap, disk and network.

`HostSampler.sample()` is cheap (well under a millisecond) and never raises for a missing
counter: a figure the platform does not give (no disks in a container, no load average) is
None. Rates are computed between two samples on the monotonic clock.
"""

from __future__ import annotations

import os
import time

import psutil

from mlmon_tui.records.system import HostStats


def _rate(new: int | None, old: int | None, dt: float) -> float | None:
    if new is None or old is None or dt <= 0 or new < old:  # counter reset or wrapped
        return None
    return (new - old) / dt


class HostSampler:
    def __init__(self) -> None:
        psutil.cpu_percent(interval=None, percpu=True)  # prime: the next call measures from here
        self._t = time.monotonic()
        self._disk = self._disk_counters()
        self._net = self._net_counters()

    @staticmethod
    def _disk_counters() -> tuple[int, int] | None:
        try:
            c = psutil.disk_io_counters()
        except (OSError, RuntimeError):
            return None
        return None if c is None else (c.read_bytes, c.write_bytes)

    @staticmethod
    def _net_counters() -> tuple[int, int] | None:
        try:
            c = psutil.net_io_counters()
        except (OSError, RuntimeError):
            return None
        return None if c is None else (c.bytes_recv, c.bytes_sent)

    def sample(self) -> HostStats:
        per_cpu = tuple(psutil.cpu_percent(interval=None, percpu=True))
        now = time.monotonic()
        dt, self._t = now - self._t, now
        disk, net = self._disk_counters(), self._net_counters()
        old_disk, old_net = self._disk, self._net
        self._disk, self._net = disk, net
        try:
            load: tuple[float, float, float] | None = tuple(os.getloadavg())  # type: ignore[assignment]
        except (OSError, AttributeError):
            load = None
        vm = psutil.virtual_memory()
        try:
            sw = psutil.swap_memory()
            swap = (sw.total, sw.used, sw.percent)
        except (OSError, RuntimeError):
            swap = (0, 0, 0.0)
        return HostStats(
            cpu_percent=sum(per_cpu) / len(per_cpu) if per_cpu else 0.0,
            per_cpu=per_cpu,
            load=load,
            cpu_count=len(per_cpu),
            mem_total=vm.total,
            mem_used=vm.total - vm.available,
            mem_percent=vm.percent,
            swap_total=swap[0],
            swap_used=swap[1],
            swap_percent=swap[2],
            disk_read_bps=_rate(*_pair(disk, old_disk, 0), dt),
            disk_write_bps=_rate(*_pair(disk, old_disk, 1), dt),
            net_recv_bps=_rate(*_pair(net, old_net, 0), dt),
            net_sent_bps=_rate(*_pair(net, old_net, 1), dt),
        )


def _pair(new: tuple[int, int] | None, old: tuple[int, int] | None, k: int):
    return (None if new is None else new[k], None if old is None else old[k])
