"""Replays a recorded NVML answer set (tests/nvml_fixtures/*.json) at the `pynvml` function
boundary: each `pynvml.nvml*` function the code under test calls is replaced by one that
returns the recorded value, in pynvml's own return types, or raises the recorded
`NVMLError_*` exactly as pynvml does. Nothing below pynvml's functions is imitated."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pynvml

FIXTURES = Path(__file__).parent / "nvml_fixtures"


def _raise_if_error(value):
    if isinstance(value, str) and value.startswith("NVML_ERROR_"):
        raise pynvml.NVMLError(getattr(pynvml, value))
    return value


class FakeNvml:
    def __init__(self, name: str) -> None:
        self.data = json.loads((FIXTURES / f"{name}.json").read_text())
        self.calls: dict[str, int] = {}
        self.util_calls: dict[int, int] = {}
        self.initialised = False

    # handles: ("gpu", i) or ("mig", i, k)
    def _dev(self, h):
        d = self.data["devices"][h[1]]
        lost_after = d.get("lost_after")
        if lost_after is not None and self.util_calls.get(h[1], 0) > lost_after:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        if h[0] == "mig":
            return d["mig_devices"][h[2]]
        return d

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def install(self, monkeypatch) -> "FakeNvml":
        def init():
            _raise_if_error(self.data.get("init"))
            self.initialised = True

        def shutdown():
            self.initialised = False

        def count():
            return _raise_if_error(self.data["count"])

        def handle(i):
            if not 0 <= i < len(self.data["devices"]):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return ("gpu", i)

        def name(h):
            return self._dev(h)["name"]

        def util(h):
            if h[0] == "gpu":
                self.util_calls[h[1]] = self.util_calls.get(h[1], 0) + 1
            u = _raise_if_error(self._dev(h)["utilization"])
            return pynvml.c_nvmlUtilization_t(gpu=u["gpu"], memory=u["memory"])

        def mem(h, version=None):
            m = _raise_if_error(self._dev(h)["memory"])
            return pynvml.c_nvmlMemory_t(total=m["total"], free=m["free"], used=m["used"])

        def temp(h, sensor):
            assert sensor == pynvml.NVML_TEMPERATURE_GPU
            return _raise_if_error(self._dev(h)["temperature"])

        def power(h):
            return _raise_if_error(self._dev(h)["power_usage"])

        def limit(h):
            return _raise_if_error(self._dev(h)["power_limit"])

        def mig_mode(h):
            return list(_raise_if_error(self._dev(h)["mig_mode"]))

        def max_mig(h):
            return _raise_if_error(self._dev(h).get("max_mig", 0))

        def mig_handle(h, k):
            slots = self._dev(h).get("mig_devices", [])
            if k >= len(slots):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            _raise_if_error(slots[k])
            return ("mig", h[1], k)

        def procs(key):
            def f(h):
                found = _raise_if_error(self._dev(h)[key])
                return [
                    pynvml.nvmlFriendlyObject(
                        {**p, "pid": os.getpid() if p["pid"] == "LOCAL_PID" else p["pid"]}
                    )
                    for p in found
                ]
            return f

        def driver():
            return self.data["driver"]

        table = {
            "nvmlInit": init, "nvmlShutdown": shutdown, "nvmlDeviceGetCount": count,
            "nvmlDeviceGetHandleByIndex": handle, "nvmlDeviceGetName": name,
            "nvmlDeviceGetUtilizationRates": util, "nvmlDeviceGetMemoryInfo": mem,
            "nvmlDeviceGetTemperature": temp, "nvmlDeviceGetPowerUsage": power,
            "nvmlDeviceGetEnforcedPowerLimit": limit, "nvmlDeviceGetMigMode": mig_mode,
            "nvmlDeviceGetMaxMigDeviceCount": max_mig,
            "nvmlDeviceGetMigDeviceHandleByIndex": mig_handle,
            "nvmlDeviceGetComputeRunningProcesses": procs("compute_procs"),
            "nvmlDeviceGetGraphicsRunningProcesses": procs("graphics_procs"),
            "nvmlSystemGetDriverVersion": driver,
        }
        for fname, fn in table.items():
            assert hasattr(pynvml, fname), fname  # only functions pynvml really has

            def counted(*a, _fn=fn, _name=fname, **kw):
                self._count(_name)
                return _fn(*a, **kw)

            monkeypatch.setattr(pynvml, fname, counted)
        return self
