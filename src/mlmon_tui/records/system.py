"""What the system sampler produces: host, GPU and process readings, and one snapshot.

Neutral ground: the sampler builds these, the gauge widgets and the analysis read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[int, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class GpuProc:
    """One process NVML reports on a GPU. `pid` is None when NVML's pid does not name a
    process we can see (a container shown host PIDs): the memory is real, the owner unknown."""

    nvml_pid: int
    pid: int | None
    used: int | None


@dataclass(frozen=True, slots=True)
class MigStats:
    index: int
    mem_used: int | None
    mem_total: int | None

    @property
    def mem_fraction(self) -> float | None:
        return _fraction(self.mem_used, self.mem_total)


@dataclass(frozen=True, slots=True)
class GpuStats:
    """One GPU at one instant. Any field NVML could not give is None (shown "n/a")."""

    index: int
    name: str
    util: float | None = None  # percent of time a kernel ran
    mem_util: float | None = None  # percent of time memory was read or written
    mem_used: int | None = None  # bytes
    mem_total: int | None = None
    temperature: float | None = None  # degrees C
    power_w: float | None = None
    power_limit_w: float | None = None
    lost: bool = False
    mig: tuple[MigStats, ...] | None = None  # None: MIG off
    util_note: str = ""  # why `util` is missing, when known ("MIG")
    procs: tuple[GpuProc, ...] = ()

    @property
    def mem_fraction(self) -> float | None:
        return _fraction(self.mem_used, self.mem_total)


def _fraction(used: int | None, total: int | None) -> float | None:
    if used is None or not total:
        return None
    return used / total


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """One process of a run. `cpu_percent` is None on the first sample of a process (psutil
    needs two) and where it could not be read; `gpu_mem` maps GPU index to bytes."""

    pid: int
    name: str
    cpu_percent: float | None
    rss: int | None
    gpu_mem: Mapping[int, int] = field(default_factory=lambda: _EMPTY)
    children: tuple["ProcInfo", ...] = ()

    @property
    def gpu_mem_total(self) -> int:
        return sum(self.gpu_mem.values())


@dataclass(frozen=True, slots=True)
class HostStats:
    cpu_percent: float  # mean over cores, 0..100
    per_cpu: tuple[float, ...]
    load: tuple[float, float, float] | None  # 1, 5, 15 min
    cpu_count: int
    mem_total: int
    mem_used: int
    mem_percent: float
    swap_total: int
    swap_used: int
    swap_percent: float
    disk_read_bps: float | None = None  # None on the first sample or where not available
    disk_write_bps: float | None = None
    net_recv_bps: float | None = None
    net_sent_bps: float | None = None


@dataclass(frozen=True, slots=True)
class History:
    """The last samples, oldest first. GPU series are indexed like `Snapshot.gpus`; a value
    NVML could not give is None."""

    cpu: tuple[float, ...] = ()
    mem: tuple[float, ...] = ()
    gpu_util: tuple[tuple[float | None, ...], ...] = ()
    gpu_mem: tuple[tuple[float | None, ...], ...] = ()  # memory fraction 0..1


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    wall: float  # time.time() of the sample
    mono: float  # time.monotonic() of the sample
    host: HostStats | None
    gpus: tuple[GpuStats, ...]
    gpu_status: str  # "" when GPUs are read; else one line saying what is missing
    runs: Mapping[str, tuple[ProcInfo, ...]] = field(default_factory=lambda: MappingProxyType({}))
    untracked_gpu: tuple[tuple[int, GpuProc], ...] = ()  # (gpu index, process) in no run
    history: History = field(default_factory=History)
    sample_seconds: float = 0.0
    error: str = ""  # an unexpected failure of the last tick, if any
