"""NVML against the real library and driver, where this machine has an NVIDIA GPU (skipped
otherwise): our reader's figures agree with pynvml asked directly, and the sampler shows the
GPUs from its second sample on."""

from __future__ import annotations

import pynvml
import pytest

from mlmon_tui.sources.system.nvml import NvmlReader
from mlmon_tui.sources.system.sampler import Sampler


def _gpu_count() -> int:
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError, OSError):
        return 0
    try:
        return pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError:
        return 0
    finally:
        pynvml.nvmlShutdown()


pytestmark = pytest.mark.skipif(_gpu_count() == 0, reason="no NVIDIA GPU or driver here")


def _direct(i: int) -> dict:
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    name = pynvml.nvmlDeviceGetName(h)
    return {"name": name.decode() if isinstance(name, bytes) else name,
            "total": pynvml.nvmlDeviceGetMemoryInfo(h).total}  # fmt: skip


def test_reader_agrees_with_pynvml():
    r = NvmlReader()
    assert r.open() and r.status == ""
    try:
        gpus = r.sample()
        assert len(gpus) == pynvml.nvmlDeviceGetCount()
        for g in gpus:
            want = _direct(g.index)
            assert g.name == want["name"] and g.mem_total == want["total"]
            assert not g.lost
            assert g.util is None or 0 <= g.util <= 100
            assert g.mem_used is None or 0 <= g.mem_used <= g.mem_total
            assert g.temperature is None or 0 < g.temperature < 120
            if g.power_w is not None and g.power_limit_w is not None:
                assert 0 < g.power_w <= g.power_limit_w * 1.5
    finally:
        r.close()


def test_sampler_shows_real_gpus_from_its_second_sample():
    s = Sampler(gpu=True)
    first = s.sample_now()
    assert first.gpus == ()  # NVML starts after the first frame
    second = s.sample_now()
    assert second.gpu_status == "" and len(second.gpus) == _gpu_count()
    assert len(second.history.gpu_util) == len(second.gpus)
