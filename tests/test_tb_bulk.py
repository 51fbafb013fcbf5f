"""The bulk decoder (`tb_bulk`) gives exactly what the record-by-record decoder gives: every
file below is read both ways, with event files written by tensorboardX's protobufs and by
the real writers (tensorboardX and PyTorch SummaryWriter), and the results compared point for
point, problem for problem. Each case also checks that the bulk path really took part."""

from __future__ import annotations

import platform
import resource
import struct
from pathlib import Path

import numpy as np
import pytest
import tbwrite as tw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlmon_tui.sources.logs import heap, tb_bulk
from mlmon_tui.sources.logs.tfevents import TfEventsSource

NAME = "events.out.tfevents.1700000000.host.1.0"
_FEED = tb_bulk.feed


def _read(path: Path, polls: list[int] | None = None):
    """Everything read from `path` (grown to each size in `polls`, then whole)."""
    data = path.read_bytes()
    grow = path.parent / "grow" / path.name
    grow.parent.mkdir(exist_ok=True)
    grow.write_bytes(b"")
    src = TfEventsSource(grow, grow.parent)
    out = []
    for size in [*(polls or []), len(data)]:
        grow.write_bytes(data[:size])
        up = src.poll()
        out.append((
            sorted((b.tag, b.step.tolist(), b.wall.tolist(), np.asarray(b.value).tobytes())
                   for b in up.scalars),  # the order of tags within an update means nothing
            [(h.tag, h.step, h.wall, h.num, h.bucket.tolist()) for h in up.histograms],
            [(p.message, p.severity) for p in up.problems], list(up.resets),
        ))  # fmt: skip
    src.close()
    return out


def both_ways(path: Path, monkeypatch, polls=None, expect_bulk=True):
    used = []

    def spy(dec, buf, base):
        n = _FEED(dec, buf, base)
        used.append(n)
        return n

    monkeypatch.setattr(tb_bulk, "MIN_BYTES", 1 << 40)
    slow = _read(path, polls)
    monkeypatch.setattr(tb_bulk, "MIN_BYTES", 0)
    monkeypatch.setattr(tb_bulk, "MIN_RECORDS", 8)
    monkeypatch.setattr(tb_bulk, "WINDOW", 12)  # periods are looked for in short files too
    monkeypatch.setattr(tb_bulk, "feed", spy)
    fast = _read(path, polls)
    assert fast == slow
    if expect_bulk:
        assert sum(used) > 0, "the bulk path never took part"
    return fast


def scalars(result) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for ups in result:
        for tag, steps, _, _ in ups[0]:
            out.setdefault(tag, []).extend(steps)
    return out


def _steps():
    """Steps crossing every varint width the bulk path decodes, and a few more."""
    return [0, 1, 2, 127, 128, 129, 300, 16383, 16384, 20000, 2**21 - 1, 2**21, 2**28,
            2**35 + 3, 2**49, 2**56 + 1, 2**62]  # fmt: skip


def test_simple_values_every_step_width_and_odd_values(tmp_path, monkeypatch):
    vals = [0.5, -0.0, float("nan"), float("inf"), -float("inf"), 1e-38, 3.4e38]
    events = [tw.version_event()]
    for k, s in enumerate(_steps()):
        for t in ("loss", "train/acc", "é/ü", "x" * 100):
            events.append(tw.simple(t, vals[k % len(vals)], s, wall=1.7e9 + k * 0.25))
    tw.write(tmp_path / NAME, events)
    got = scalars(both_ways(tmp_path / NAME, monkeypatch))
    assert got["loss"] == _steps() and set(got) == {"loss", "train/acc", "é/ü", "x" * 100}


def test_tf2_tensors_metadata_first_and_undeclared_tags(tmp_path, monkeypatch):
    events = [tw.version_event(), tw.tf2("early", tw.tensor(1.0), 0, None)]
    for s in range(60):
        for tag in ("epoch_loss", "epoch_acc", "early"):
            first = s == 0 and tag != "early" or s == 5 and tag == "early"
            events.append(tw.tf2(tag, tw.tensor(s / 4), s, "scalars" if first else None))
        events.append(tw.tf2("note", tw.tensor(1.0), s, "text" if s == 0 else None))
        events.append(tw.tf2("plain", tw.tensor(2.0), s, None))
    tw.write(tmp_path / NAME, events)
    got = scalars(both_ways(tmp_path / NAME, monkeypatch))
    assert set(got) == {"epoch_loss", "epoch_acc", "early"}
    assert got["early"] == list(range(5, 60))


def test_histograms_multi_value_summaries_and_simple_scalars_mixed(tmp_path, monkeypatch):
    events = [tw.version_event()]
    for s in range(200):
        events.append(tw.simple("loss", 1 / (s + 1), s))
        if s % 7 == 0:
            events.append(tw.histo("weights", np.arange(s + 5.0), s))
        if s % 11 == 0:
            e = tw.simple("a", 1.0, s)
            e.summary.value.add(tag="b", simple_value=2.0)
            events.append(e)
    tw.write(tmp_path / NAME, events)
    got = both_ways(tmp_path / NAME, monkeypatch)
    assert len(scalars(got)["b"]) == 19 and len(got[-1][1]) == 29


@pytest.mark.parametrize("case", ["restart", "session_start", "bad_data_crc", "bad_length_crc",
                                  "half_written", "no_version"])  # fmt: skip
def test_everything_unusual_is_handled_like_the_record_loop(tmp_path, monkeypatch, case):
    events = [] if case == "no_version" else [tw.version_event()]
    events += [tw.simple(t, 1.0, s) for s in range(300) for t in ("a", "b")]
    if case in ("restart", "no_version"):
        events += [tw.simple("a", 2.0, s) for s in range(150, 200)]
    if case == "session_start":
        events += [tw.session_start(120)] + [tw.simple("a", 3.0, s) for s in range(120, 160)]
    events += [tw.simple(t, 4.0, s) for s in range(300, 400) for t in ("a", "b")]
    recs = tw.records(events)
    data = bytearray(b"".join(recs))
    at = sum(len(r) for r in recs[:400])
    if case == "bad_data_crc":
        data[at + len(recs[400]) - 6] ^= 0x40  # a value byte
    elif case == "bad_length_crc":
        data[at : at + 8] = struct.pack("<Q", 7)
    elif case == "half_written":
        data = data[: at + 9]
    path = tmp_path / NAME
    path.write_bytes(bytes(data))
    got = both_ways(path, monkeypatch, polls=[at // 2, at + 5])
    if case == "bad_data_crc":
        assert any("checksum" in m for ups in got for m, _ in ups[2])


def test_real_writers_tensorboardx_and_pytorch(tmp_path, monkeypatch):
    from tensorboardX import SummaryWriter as XWriter

    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    for name, cls in (("x", XWriter), ("t", torch_tb.SummaryWriter)):
        w = cls(str(tmp_path / name))
        for s in range(400):
            w.add_scalar("train/loss", 1 / (s + 1), s)
            w.add_scalar("lr", 1e-3 * 0.99**s, s)
            if s % 50 == 0:
                w.add_histogram("w", np.arange(10.0) * s, s)
        w.add_scalars("pair", {"a": 1.0, "b": 2.0}, 3)
        w.close()
        for path in sorted((tmp_path / name).rglob("events.out.tfevents.*")):
            big = len(path.read_bytes()) > 1000
            got = both_ways(path, monkeypatch, expect_bulk=big)
            if big:
                assert scalars(got)["train/loss"] == list(range(400))


_FUZZ = b"".join(tw.records(
    [tw.version_event()] + [tw.simple(t, s / 7, s) for s in range(40) for t in ("a", "b")]
    + [tw.tf2("c", tw.tensor(s / 3), s, "scalars" if s == 0 else None) for s in range(20)]
    + [tw.histo("h", np.arange(20.0), 3), tw.session_start(30)]
    + [tw.simple("a", 9.0, s) for s in range(30, 50)]))  # fmt: skip


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    flips=st.lists(st.tuples(st.integers(0, len(_FUZZ) - 1), st.integers(1, 255)), max_size=3),
    cut=st.integers(len(_FUZZ) // 2, len(_FUZZ)),
)
def test_corrupted_files_read_the_same_both_ways(tmp_path, monkeypatch, flips, cut):
    data = bytearray(_FUZZ[:cut])
    for at, mask in flips:
        if at < len(data):
            data[at] ^= mask
    (tmp_path / NAME).write_bytes(bytes(data))
    both_ways(tmp_path / NAME, monkeypatch, expect_bulk=False)


def test_a_tag_first_seen_after_thousands_of_records(tmp_path, monkeypatch):
    events = [tw.version_event()] + [tw.simple("loss", 1.0, s) for s in range(5000)]
    events += [tw.simple(t, 2.0, s) for s in range(5000, 5100) for t in ("loss", "late")]
    tw.write(tmp_path / NAME, events)
    got = scalars(both_ways(tmp_path / NAME, monkeypatch))
    assert got["late"] == list(range(5000, 5100)) and len(got["loss"]) == 5100


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_reading_again_reuses_freed_memory_instead_of_faulting_pages_in(tmp_path):
    """Bulk decoding's temporaries come back from the heap on the next read (see `heap`):
    without it, every 2 MB region faulted its few MB of temporaries in afresh."""
    events = [tw.version_event()] + [tw.simple(t, s / 3, s, wall=1.7e9 + s)
                                     for s in range(12_000) for t in ("a", "bb", "loss/x")]
    tw.write(tmp_path / NAME, events)
    assert heap.retain_freed_memory()
    TfEventsSource(tmp_path / NAME, tmp_path).poll()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    up = TfEventsSource(tmp_path / NAME, tmp_path).poll()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    assert sum(len(b) for b in up.scalars) == 36_000
    assert faults < 200, f"{faults} pages faulted in to read a {len(events)}-event file again"


def test_steps_of_one_width_one_group_a_tag(tmp_path, monkeypatch):
    """Every step two varint bytes wide: each tag is one group of records, whose order the
    grouping already gives; a tag with more groups (here `b`, wider from step 16384) is
    sorted back into file order."""
    events = [tw.version_event()]
    for s in range(200, 1200):
        events += [tw.simple(t, s / 9, s, wall=1.7e9 + s) for t in ("a", "bb", "loss/ccc")]
    tw.write(tmp_path / NAME, events)
    got = scalars(both_ways(tmp_path / NAME, monkeypatch))
    assert got == {t: list(range(200, 1200)) for t in ("a", "bb", "loss/ccc")}
    events += [tw.simple("b", 1.0, s) for s in range(16_000, 17_000)]
    tw.write(tmp_path / NAME, events)
    got = scalars(both_ways(tmp_path / NAME, monkeypatch))
    assert got["b"] == list(range(16_000, 17_000))
