"""GPU readings through NVML (`nvidia-ml-py`, imported as `pynvml`).

No driver, no GPU and a failing NVML are ordinary states here, not errors: `NvmlReader.status`
says in one line what is missing and `sample()` returns what it can. A single failing query
becomes `None` ("n/a") for that field only. A GPU that falls off the bus (`GPU is lost`) is
marked lost and no longer queried. Every call here may block, so the sampler calls this from
its own thread, never from the UI.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import pynvml

from mlmon_tui.records.system import GpuProc, GpuStats, MigStats  # noqa: F401 (API)


def describe_error(err: BaseException) -> str:
    """One line a person understands, for an NVML failure at start-up."""
    value = getattr(err, "value", None)
    if value == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return "no NVIDIA driver (libnvidia-ml.so not found)"
    if value == pynvml.NVML_ERROR_DRIVER_NOT_LOADED:
        return "NVIDIA driver not loaded"
    if value == pynvml.NVML_ERROR_NO_PERMISSION:
        return "no permission to query the GPUs (NVML)"
    if value == pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        return "NVML and driver versions differ (reboot or reload the driver)"
    try:
        text = str(err)
    except Exception:  # pynvml's __str__ may itself call into the library
        text = f"error {value}"
    return f"NVML failed: {text}"


def uses_nvidia_device(pid: int) -> bool | None:
    """Whether a local process holds a /dev/nvidia* file open: True, False, or None when
    it cannot be told (another user's process). Used to refuse NVML pids that are not ours."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/dev/nvidia"):
                return True
        except OSError:
            continue
    return False


def default_pid_check(pid: int) -> bool:
    """True when NVML's pid can be shown as a local process: it exists here and it is not
    known to be a process without the GPU open (a host PID seen from inside a container)."""
    return uses_nvidia_device(pid) is not False


_MISSING = object()


class NvmlReader:
    """Lazily initialised NVML; `status` is "" when GPUs are read, else why not."""

    def __init__(self, pid_check: Callable[[int], bool] = default_pid_check) -> None:
        self.status = "not started"
        self._handles: list[Any] = []
        self._names: list[str] = []
        self._lost: set[int] = set()
        self._open = False
        self._pid_check = pid_check
        self._pid_ok: dict[int, bool] = {}

    @property
    def ok(self) -> bool:
        return self._open

    def open(self) -> bool:
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as err:
            self.status = describe_error(err)
            return False
        except OSError as err:  # a broken library file
            self.status = f"NVML could not be loaded: {err}"
            return False
        self._open = True
        try:
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except pynvml.NVMLError as err:
            self.status = describe_error(err)
            self.close()
            return False
        self._names = [self._name(h) for h in self._handles]
        self.status = "" if self._handles else "no NVIDIA GPU found"
        return True

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError:
                pass

    @staticmethod
    def _name(handle: Any) -> str:
        try:
            name = pynvml.nvmlDeviceGetName(handle)
        except pynvml.NVMLError:
            return "GPU"
        return name.decode() if isinstance(name, bytes) else str(name)

    def _q(self, index: int, func: Callable[..., Any], *args: Any) -> Any:
        """One query: its value, or _MISSING on failure; a lost GPU is remembered."""
        if index in self._lost:
            return _MISSING
        try:
            return func(*args)
        except pynvml.NVMLError as err:
            if getattr(err, "value", None) == pynvml.NVML_ERROR_GPU_IS_LOST:
                self._lost.add(index)
            return _MISSING

    def sample(self) -> tuple[GpuStats, ...]:
        if not self._open:
            return ()
        gpus = tuple(self._sample_one(i, h) for i, h in enumerate(self._handles))
        current = {p.nvml_pid for g in gpus for p in g.procs}
        for pid in [pid for pid in self._pid_ok if pid not in current]:
            del self._pid_ok[pid]  # a pid seen again later is checked again
        lost = sorted(self._lost)
        if lost:
            self.status = "lost: " + ", ".join(f"GPU{i}" for i in lost) + " (fell off the bus)"
        return gpus

    def _sample_one(self, i: int, h: Any) -> GpuStats:
        name = self._names[i]
        if i in self._lost:
            return GpuStats(index=i, name=name, lost=True)
        util = self._q(i, pynvml.nvmlDeviceGetUtilizationRates, h)
        mem = self._q(i, pynvml.nvmlDeviceGetMemoryInfo, h)
        temp = self._q(i, pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU)
        power = self._q(i, pynvml.nvmlDeviceGetPowerUsage, h)
        limit = self._q(i, pynvml.nvmlDeviceGetEnforcedPowerLimit, h)
        mig_mode = self._q(i, pynvml.nvmlDeviceGetMigMode, h)
        mig = None
        if mig_mode is not _MISSING and mig_mode and mig_mode[0] == pynvml.NVML_DEVICE_MIG_ENABLE:
            mig = self._mig(i, h)
        procs = self._procs(i, h)
        if i in self._lost:
            return GpuStats(index=i, name=name, lost=True)
        note = ""
        if util is _MISSING:
            note = "MIG" if mig is not None else ""
        return GpuStats(
            index=i,
            name=name,
            util=None if util is _MISSING else float(util.gpu),
            mem_util=None if util is _MISSING else float(util.memory),
            mem_used=None if mem is _MISSING else int(mem.used),
            mem_total=None if mem is _MISSING else int(mem.total),
            temperature=None if temp is _MISSING else float(temp),
            power_w=None if power is _MISSING else power / 1000.0,
            power_limit_w=None if limit is _MISSING else limit / 1000.0,
            mig=mig,
            util_note=note,
            procs=procs,
        )

    def _mig(self, i: int, h: Any) -> tuple[MigStats, ...]:
        count = self._q(i, pynvml.nvmlDeviceGetMaxMigDeviceCount, h)
        if count is _MISSING:
            return ()
        out = []
        for k in range(int(count)):
            mh = self._q(i, pynvml.nvmlDeviceGetMigDeviceHandleByIndex, h, k)
            if mh is _MISSING:  # NOT_FOUND: no instance in this slot
                continue
            mem = self._q(i, pynvml.nvmlDeviceGetMemoryInfo, mh)
            out.append(
                MigStats(
                    index=k,
                    mem_used=None if mem is _MISSING else int(mem.used),
                    mem_total=None if mem is _MISSING else int(mem.total),
                )
            )
        return tuple(out)

    def _procs(self, i: int, h: Any) -> tuple[GpuProc, ...]:
        seen: dict[int, int | None] = {}
        for func in (
            pynvml.nvmlDeviceGetComputeRunningProcesses,
            pynvml.nvmlDeviceGetGraphicsRunningProcesses,
        ):
            found = self._q(i, func, h)
            if found is _MISSING:
                continue
            for p in found:
                used = getattr(p, "usedGpuMemory", None)
                used = int(used) if isinstance(used, int) else None
                prev = seen.get(p.pid)
                seen[p.pid] = used if prev is None else prev + (used or 0)
        return tuple(
            GpuProc(nvml_pid=pid, pid=pid if self._local(pid) else None, used=used)
            for pid, used in sorted(seen.items())
        )

    def _local(self, pid: int) -> bool:
        ok = self._pid_ok.get(pid)
        if ok is None:
            ok = self._pid_ok[pid] = bool(self._pid_check(pid))
        return ok
