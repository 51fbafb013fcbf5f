"""Print one full gauges snapshot as text, or record this machine's raw NVML answers.

    PYTHONPATH=src python benchmarks/nvml_probe.py            # one snapshot, as the panel draws it
    PYTHONPATH=src python benchmarks/nvml_probe.py --run DIR  # ... with the processes writing DIR
    PYTHONPATH=src python benchmarks/nvml_probe.py --record tests/nvml_fixtures/NAME.json

The recording holds exactly what each `pynvml` function returned (or the NVML error it
raised) for every GPU, in the format the tests replay at the `pynvml` function boundary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import pynvml  # noqa: E402

ERR_NAMES = {v: k for k, v in vars(pynvml).items() if k.startswith("NVML_ERROR_") and isinstance(v, int)}


def _call(func, *args, conv=lambda x: x):
    try:
        return conv(func(*args))
    except pynvml.NVMLError as err:
        return ERR_NAMES.get(err.value, f"NVML_ERROR_{err.value}")


def _mem(m):
    return {"total": int(m.total), "used": int(m.used), "free": int(m.free)}


def _procs(ps):
    return [{"pid": int(p.pid), "usedGpuMemory": p.usedGpuMemory} for p in ps]


def record() -> dict:
    out: dict = {"description": "", "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    init = _call(pynvml.nvmlInit, conv=lambda _: None)
    out["init"] = init
    if init is not None:
        return out
    dv = _call(pynvml.nvmlSystemGetDriverVersion)
    out["driver"] = dv.decode() if isinstance(dv, bytes) else dv
    count = _call(pynvml.nvmlDeviceGetCount)
    out["count"] = count
    devices = []
    for i in range(count if isinstance(count, int) else 0):
        h = pynvml.nvmlDeviceGetHandleByIndex(i)
        name = _call(pynvml.nvmlDeviceGetName, h)
        d = {
            "name": name.decode() if isinstance(name, bytes) else name,
            "utilization": _call(pynvml.nvmlDeviceGetUtilizationRates, h,
                                 conv=lambda u: {"gpu": u.gpu, "memory": u.memory}),
            "memory": _call(pynvml.nvmlDeviceGetMemoryInfo, h, conv=_mem),
            "temperature": _call(pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU),
            "power_usage": _call(pynvml.nvmlDeviceGetPowerUsage, h),
            "power_limit": _call(pynvml.nvmlDeviceGetEnforcedPowerLimit, h),
            "mig_mode": _call(pynvml.nvmlDeviceGetMigMode, h, conv=list),
            "compute_procs": _call(pynvml.nvmlDeviceGetComputeRunningProcesses, h, conv=_procs),
            "graphics_procs": _call(pynvml.nvmlDeviceGetGraphicsRunningProcesses, h, conv=_procs),
        }
        mig = d["mig_mode"]
        if isinstance(mig, list) and mig[0] == pynvml.NVML_DEVICE_MIG_ENABLE:
            n = _call(pynvml.nvmlDeviceGetMaxMigDeviceCount, h)
            d["max_mig"] = n
            slots = []
            for k in range(n if isinstance(n, int) else 0):
                mh = _call(pynvml.nvmlDeviceGetMigDeviceHandleByIndex, h, k)
                slots.append(mh if isinstance(mh, str) else
                             {"memory": _call(pynvml.nvmlDeviceGetMemoryInfo, mh, conv=_mem),
                              "utilization": _call(pynvml.nvmlDeviceGetUtilizationRates, mh,
                                                   conv=lambda u: {"gpu": u.gpu, "memory": u.memory})})
            d["mig_devices"] = slots
        devices.append(d)
    out["devices"] = devices
    pynvml.nvmlShutdown()
    return out


def snapshot_text(width: int, runs: list[str]) -> str:
    from mlmon_tui.panels.gauge_lines import build_lines
    from mlmon_tui.sources.system.procs import ProcessTracker
    from mlmon_tui.sources.system.sampler import Sampler

    tracker = ProcessTracker(lambda: {os.path.basename(r.rstrip("/")): [r] for r in runs}) if runs else None
    s = Sampler(interval=1.0, tracker=tracker)
    s.sample_now()
    time.sleep(0.5)  # a second sample gives CPU and I/O rates
    snap = s.sample_now()
    lines = [t.plain for t in build_lines(snap, width, compact=False)]
    lines.append("")
    lines.append(f"gpu_status: {snap.gpu_status or 'ok'}; sample took {snap.sample_seconds * 1e3:.2f} ms")
    for g in snap.gpus:
        lines.append(repr(g))
    for run, procs in snap.runs.items():
        for p in procs:
            lines.append(f"run {run}: {p!r}")
    lines.append("compact: " + build_lines(snap, width, compact=True)[0].plain)
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", metavar="FILE", help="write this machine's raw NVML answers as JSON")
    ap.add_argument("--width", type=int, default=140)
    ap.add_argument("--run", action="append", default=[], metavar="DIR",
                    help="a run directory: show the processes writing into it (repeatable)")
    args = ap.parse_args()
    if args.record:
        data = record()
        with open(args.record, "w") as f:
            json.dump(data, f, indent=1)
        print(json.dumps(data, indent=1))
        return 0
    print(snapshot_text(args.width, args.run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
