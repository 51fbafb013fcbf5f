"""NVML readings, replayed from recorded answers at the pynvml function boundary."""

from __future__ import annotations

import os
import subprocess
import sys

import pynvml
import pytest
from nvml_fake import FakeNvml

from mlmon_tui.sources.system.nvml import NvmlReader, default_pid_check, uses_nvidia_device
from mlmon_tui.sources.system.sampler import Sampler

GiB = 1024**3


def reader(monkeypatch, fixture, **kw) -> tuple[NvmlReader, FakeNvml]:
    fake = FakeNvml(fixture).install(monkeypatch)
    r = NvmlReader(**kw)
    r.open()
    return r, fake


def test_one_gpu_busy_recorded_on_h100(monkeypatch):
    r, fake = reader(monkeypatch, "one_gpu_busy", pid_check=lambda pid: True)
    assert r.status == ""
    (g,) = r.sample()
    rec = fake.data["devices"][0]
    assert g.name == "NVIDIA H100 80GB HBM3"
    assert g.util == rec["utilization"]["gpu"] == 100
    assert g.mem_used == rec["memory"]["used"] and g.mem_total == rec["memory"]["total"]
    assert g.mem_fraction == pytest.approx(rec["memory"]["used"] / rec["memory"]["total"])
    assert g.temperature == 54
    assert g.power_w == pytest.approx(693.692) and g.power_limit_w == pytest.approx(700.0)
    assert g.mig is None and not g.lost
    assert [(p.pid, p.used) for p in g.procs] == [(507, 1453326336)]


def test_eight_gpus_and_single_failing_queries_are_na(monkeypatch):
    r, _ = reader(monkeypatch, "eight_gpu", pid_check=lambda pid: True)
    gpus = r.sample()
    assert [g.index for g in gpus] == list(range(8))
    assert [g.util for g in gpus] == [100, 97, 88, 100, 12, 0, 95, 99]
    g5 = gpus[5]
    assert g5.temperature is None and g5.power_w is None  # NOT_SUPPORTED, UNKNOWN
    assert g5.util == 0 and g5.mem_used is not None and g5.power_limit_w == 700  # the rest is read
    assert r.status == ""
    assert all(g.temperature is not None for g in gpus if g.index != 5)


def test_mig_instances_show_memory_and_util_is_marked(monkeypatch):
    r, _ = reader(monkeypatch, "mig")
    (g,) = r.sample()
    assert g.util is None and g.util_note == "MIG"
    assert g.mig is not None and [m.index for m in g.mig] == [0, 1, 2]
    assert [m.mem_total for m in g.mig] == [40 * GiB, 20 * GiB, 10 * GiB]
    assert g.mig[0].mem_fraction == pytest.approx(22 / 40)
    assert g.mem_used == 30 * GiB
    # NVML gives no per-process memory under MIG; a host pid that does not exist here: n/a
    (p,) = g.procs
    assert p.used is None and p.pid is None and p.nvml_pid == 4012345


def test_container_host_pids_are_not_attributed(monkeypatch):
    r, _ = reader(monkeypatch, "container_host_pids")
    (g,) = r.sample()
    by_nvml = {p.nvml_pid: p for p in g.procs}
    assert by_nvml[3012345].pid is None  # no such process here
    assert by_nvml[os.getpid()].pid is None  # exists here, but has no GPU open: not the user
    assert by_nvml[3012345].used == 1453326336  # the memory is still shown


@pytest.mark.parametrize(
    "fixture, words, exc",
    [
        ("error_library_not_found", "no NVIDIA driver", pynvml.NVMLError_LibraryNotFound),
        ("error_driver_not_loaded", "driver not loaded", pynvml.NVMLError_DriverNotLoaded),
        ("error_no_permission", "no permission", pynvml.NVMLError_NoPermission),
        ("error_unknown", "Unknown Error", pynvml.NVMLError_Unknown),
        ("error_count_fails", "Unknown Error", pynvml.NVMLError_Unknown),
    ],
)
def test_start_up_errors_become_one_line(monkeypatch, fixture, words, exc):
    fake = FakeNvml(fixture).install(monkeypatch)
    with pytest.raises(exc):  # the fake raises what pynvml raises
        pynvml.nvmlInit() if fake.data.get("init") else pynvml.nvmlDeviceGetCount()
    r = NvmlReader()
    assert r.open() is False
    assert words in r.status and "\n" not in r.status
    assert r.sample() == ()
    assert not fake.initialised or fake.calls.get("nvmlShutdown") == 1


def test_no_gpu_is_an_ordinary_state(monkeypatch):
    r, _ = reader(monkeypatch, "no_gpu")
    assert r.ok and r.status == "no NVIDIA GPU found" and r.sample() == ()


def test_gpu_lost_mid_run_is_marked_and_no_longer_queried(monkeypatch):
    r, fake = reader(monkeypatch, "gpu_lost", pid_check=lambda pid: True)
    for _ in range(2):
        a, b = r.sample()
        assert not b.lost and b.util == 100
    a, b = r.sample()
    assert b.lost and b.util is None and "GPU1" in r.status
    assert not a.lost and a.util == 100  # the other GPU goes on
    calls = fake.util_calls[1]
    r.sample()
    assert fake.util_calls[1] == calls  # a lost GPU is not asked again
    assert r.sample()[1].lost


def test_sampler_survives_every_fixture(monkeypatch):
    """Whatever NVML does, the sampler returns host figures and a one-line GPU status."""
    for name in sorted(p.stem for p in FakeNvml.__init__.__globals__["FIXTURES"].glob("*.json")):
        with monkeypatch.context() as m:
            FakeNvml(name).install(m)
            s = Sampler(gpu=True)
            snap = s.sample_now()
            snap = s.sample_now()
            assert snap.error == "", name
            assert snap.host is not None and snap.host.mem_total > 0
            assert (snap.gpus == ()) == bool(snap.gpu_status) or name == "gpu_lost", name
            assert len(snap.history.gpu_util) == len(snap.gpus)


def test_no_gpu_flag_never_touches_nvml(monkeypatch):
    fake = FakeNvml("one_gpu_busy").install(monkeypatch)
    snap = Sampler(gpu=False).sample_now()
    assert snap.gpus == () and "--no-gpu" in snap.gpu_status
    assert fake.calls == {}


def test_pid_check_on_real_processes():
    # a real process that holds no /dev/nvidia* file: not a GPU user; a pid that is not there
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert uses_nvidia_device(child.pid) is False
        assert default_pid_check(child.pid) is False
    finally:
        child.kill()
        child.wait()
    assert uses_nvidia_device(child.pid) is False  # gone
