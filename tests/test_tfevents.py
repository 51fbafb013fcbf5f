"""The TensorBoard event-file reader, on real files written in each test."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tbwrite as tw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util

from mlmon_tui.sources.logs import registry
from mlmon_tui.sources.logs import tfevents
from mlmon_tui.sources.logs.tfevents import EventWriter, TfEventsSource, probe, read_all
from mlmon_tui.store import Store

NAME = "events.out.tfevents.1700000000.host.1.0"


def points(update) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list] = {}
    for b in update.scalars:
        out.setdefault(b.tag, []).extend(zip(b.step.tolist(), b.value.tolist()))
    return out


def stored(store: Store, run: str, tag: str) -> list[tuple[int, float]]:
    s = store.series(run, tag)
    return list(zip(s.step.tolist(), s.value.tolist())) if s is not None else []


def accumulated(
    directory: Path, tag: str, tensors: bool = False
) -> list[tuple[int, float]]:
    acc = ea.EventAccumulator(
        str(directory),
        size_guidance={ea.SCALARS: 0, ea.TENSORS: 0},
        purge_orphaned_data=True,
    )
    acc.Reload()
    if tensors:
        return [(e.step, float(np.asarray(tensor_util.make_ndarray(e.tensor_proto))))
                for e in acc.Tensors(tag)]  # fmt: skip
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def f32(x: float) -> float:
    return float(np.float32(x))


def test_tensorboardx_writer_scalars_and_histograms(tmp_path):
    from tensorboardX import SummaryWriter

    with SummaryWriter(str(tmp_path / "run")) as w:
        for step in range(50):
            w.add_scalar("train/loss", 1.0 / (step + 1), step)
            w.add_scalar("lr", 0.1 * 0.9**step, step)
            if step % 10 == 0:
                w.add_histogram(
                    "grad", np.random.default_rng(step).normal(size=500), step
                )
    (path,) = (tmp_path / "run").glob("events.out.tfevents.*")
    src = TfEventsSource(path, tmp_path)
    up = src.poll()
    assert src.run == "run" and src.kind == "tfevents"
    got = points(up)
    assert got["train/loss"] == [(s, f32(1.0 / (s + 1))) for s in range(50)]
    assert got["lr"] == accumulated(tmp_path / "run", "lr")
    assert all(b.source == str(path) and b.purge_orphans for b in up.scalars)
    hists = [h for h in up.histograms if h.tag == "grad"]
    assert [h.step for h in hists] == [0, 10, 20, 30, 40]
    assert all(h.num == 500 and h.bucket.sum() == 500 for h in hists)
    assert not up.problems
    assert not src.poll()  # nothing new: an empty update


def test_event_writer_is_read_by_tensorboard(tmp_path):
    with EventWriter(tmp_path / NAME) as w:
        for step in range(20):
            w.add_scalar("loss", 2.0 - step * 0.1, step, wall=100.0 + step)
        w.add_histogram("weights", np.arange(100.0), 5)
    (tmp_path / "tf2").mkdir()
    with EventWriter(tmp_path / "tf2" / NAME, tensor_form=True) as w:
        for step in range(20):
            w.add_scalar("acc", step / 20, step)
    assert accumulated(tmp_path, "loss") == points(read_all(tmp_path / NAME))["loss"]
    acc = ea.EventAccumulator(str(tmp_path), size_guidance={ea.HISTOGRAMS: 0})
    acc.Reload()
    (h,) = acc.Histograms("weights")
    (ours,) = read_all(tmp_path / NAME).histograms
    assert (
        (h.step, h.histogram_value.num, h.histogram_value.max)
        == (5, ours.num, ours.max)
        == (5, 100, 99)
    )
    tf2 = accumulated(tmp_path / "tf2", "acc", tensors=True)
    assert len(tf2) == 20 and tf2 == points(read_all(tmp_path / "tf2" / NAME))["acc"]


def test_one_tag_in_single_and_multi_value_events_keeps_file_order(tmp_path):
    """A tag written alone (the fast layout) and inside multi-value events (the general
    decoder) comes out in file order, as EventAccumulator reads it, in one read and polled."""
    events = [tw.version_event()]
    for s in range(300):
        e = tw.simple("loss", s / 7, s)
        if s % 3 == 0:
            e.summary.value.add(tag="acc", simple_value=s / 5)
        events.append(e)
    tw.write(tmp_path / NAME, events)
    want = accumulated(tmp_path, "loss")
    assert [s for s, _ in want] == list(range(300))
    assert points(read_all(tmp_path / NAME))["loss"] == want
    data = (tmp_path / NAME).read_bytes()
    grow = tmp_path / "grow" / NAME
    grow.parent.mkdir()
    src, got = TfEventsSource(grow, grow.parent), []
    for size in (len(data) // 3, len(data)):
        grow.write_bytes(data[:size])
        got += points(src.poll()).get("loss", [])
    assert got == want


def test_half_written_records_wait_then_read_once(tmp_path):
    events = [tw.version_event()] + [tw.simple("x", s * 1.5, s) for s in range(30)]
    events += [tw.histo("h", np.arange(10.0), 30)]
    data = b"".join(tw.records(events))
    path = tmp_path / NAME
    path.write_bytes(b"")
    src = TfEventsSource(path, tmp_path)
    seen: list[tuple[int, float]] = []
    hists = 0
    with open(path, "ab", buffering=0) as f:
        for i in range(0, len(data), 7):  # every cut: inside headers, payloads and CRCs
            f.write(data[i : i + 7])
            up = src.poll()
            assert not [p for p in up.problems if "empty" not in p.message]
            seen += points(up).get("x", [])
            hists += len(up.histograms)
    assert seen == [(s, s * 1.5) for s in range(30)] and hists == 1
    assert not src.poll()


def test_bad_data_crc_is_reported_once_and_skipped(tmp_path):
    recs = tw.records(
        [tw.version_event()] + [tw.simple("x", float(s), s) for s in range(10)]
    )
    bad = bytearray(recs[4])
    bad[-6] ^= 0xFF  # a byte of the float: the data CRC no longer matches
    path = tmp_path / NAME
    path.write_bytes(b"".join(recs[:4]) + bytes(bad) + b"".join(recs[5:]))
    src = TfEventsSource(path, tmp_path)
    up = src.poll()
    assert [s for s, _ in points(up)["x"]] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    (p,) = up.problems
    assert (
        "corrupt record" in p.message and f"byte {sum(map(len, recs[:4]))}" in p.message
    )
    with open(path, "ab") as f:
        f.write(b"".join(tw.records([tw.simple("x", 10.0, 10)])))
    up = src.poll()
    assert points(up)["x"] == [(10, 10.0)] and not up.problems


def test_bad_length_crc_stops_that_file_only(tmp_path):
    recs = tw.records(
        [tw.version_event()] + [tw.simple("x", float(s), s) for s in range(10)]
    )
    bad = bytearray(recs[6])
    bad[0] ^= (
        0x01  # the length no longer matches its CRC: nothing after it can be framed
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    broken, fine = tmp_path / "a" / NAME, tmp_path / "b" / NAME
    broken.write_bytes(b"".join(recs[:6]) + bytes(bad) + b"".join(recs[7:]))
    fine.write_bytes(b"".join(recs))
    store = Store()
    srcs = [TfEventsSource(p, tmp_path) for p in (broken, fine)]
    ups = [s.poll() for s in srcs]
    for up in ups:
        store.apply(up, "tfevents")
    (p,) = ups[0].problems
    assert p.severity == "error" and "corrupt record length" in p.message
    assert str(sum(map(len, recs[:6]))) in p.message
    assert [s for s, _ in stored(store, "a", "x")] == [0, 1, 2, 3, 4]
    assert [s for s, _ in stored(store, "b", "x")] == list(range(10))
    with open(broken, "ab") as f:
        f.write(b"".join(tw.records([tw.simple("x", 1.0, 11)])))
    assert not srcs[
        0
    ].poll()  # stopped for good (until truncated or replaced), said once


def test_truncated_file_is_reset_and_read_again(tmp_path):
    path = tmp_path / NAME
    tw.write(path, [tw.version_event()] + [tw.simple("x", 1.0, s) for s in range(20)])
    src = TfEventsSource(path, tmp_path)
    store = Store()
    store.apply(src.poll())
    tw.write(path, [tw.version_event(2.0)] + [tw.simple("x", 2.0, s) for s in range(5)])
    up = src.poll()
    assert up.resets == [str(path)]
    store.apply(up)
    assert stored(store, ".", "x") == [(s, 2.0) for s in range(5)]


def test_rewritten_in_place_with_more_data_is_reset(tmp_path):
    path = tmp_path / NAME
    tw.write(path, [tw.version_event(1.0), tw.simple("x", 1.0, 0)])
    src = TfEventsSource(path, tmp_path)
    src.poll()
    tw.write(path, [tw.version_event(5.0)] + [tw.simple("x", 3.0, s) for s in range(9)])
    up = src.poll()
    assert up.resets == [str(path)] and points(up)["x"] == [(s, 3.0) for s in range(9)]


def test_replaced_file_new_inode_is_reset(tmp_path):
    path = tmp_path / NAME
    tw.write(path, [tw.version_event()] + [tw.simple("x", 1.0, s) for s in range(20)])
    src = TfEventsSource(path, tmp_path)
    src.poll()
    tmp = tmp_path / "new.tmp"
    tw.write(tmp, [tw.version_event()] + [tw.simple("x", 7.0, s) for s in range(30)])
    os.replace(tmp, path)
    up = src.poll()
    assert up.resets == [str(path)] and points(up)["x"] == [(s, 7.0) for s in range(30)]
    src.close()


@pytest.mark.parametrize("split", [None, 120, 160, 200])
def test_restart_with_steps_going_back_drops_orphans_like_tensorboard(tmp_path, split):
    # No file_version event: EventAccumulator then applies its out-of-order-step rule.
    events = [tw.simple(t, 1.0, s) for s in range(100) for t in ("a", "b")]
    events += [tw.simple("a", 2.0, s) for s in range(50, 80)]  # restart from step 50
    events += [tw.simple(t, 3.0, s) for s in range(80, 90) for t in ("a", "b")]
    recs = tw.records(events)
    path = tmp_path / NAME
    store = Store()
    src = TfEventsSource(path, tmp_path)
    cut = len(recs) if split is None else split  # also across two polls
    for part in (recs[:cut], recs[cut:]):
        with open(path, "ab") as f:
            f.write(b"".join(part))
        store.apply(src.poll())
    for tag in ("a", "b"):
        assert stored(store, ".", tag) == accumulated(tmp_path, tag)
    assert stored(store, ".", "a")[49:52] == [(49, 1.0), (50, 2.0), (51, 2.0)]


def test_session_start_drops_points_at_or_after_its_step(tmp_path):
    path = tmp_path / NAME
    events = [tw.version_event()] + [
        tw.simple(t, 1.0, s) for s in range(100) for t in "ab"
    ]
    first = tw.write(path, events)
    store = Store()
    src = TfEventsSource(path, tmp_path)
    store.apply(src.poll())
    more = [tw.session_start(40)] + [tw.simple("a", 2.0, s) for s in range(40, 60)]
    tw.write(path, more, mode="ab")
    up = src.poll()
    assert up.resets == [
        str(path)
    ]  # points already handed out became orphans: read again
    store.apply(up)
    for tag in "ab":
        assert stored(store, ".", tag) == accumulated(tmp_path, tag)
    assert len(stored(store, ".", "b")) == 40 and len(first) == 201


@pytest.mark.parametrize(
    "dtype,form",
    [(tw.DT_FLOAT, "content"), (tw.DT_FLOAT, "val"), (tw.DT_DOUBLE, "content"),
     (tw.DT_DOUBLE, "val"), (tw.DT_HALF, "val"), (tw.DT_INT32, "content")],
)  # fmt: skip
def test_tf2_tensor_scalars_with_metadata_on_first_event_only(tmp_path, dtype, form):
    events = [tw.version_event()]
    for s in range(40):
        for tag in ("epoch_loss", "epoch_acc"):
            v = (s + 1) * (2.0 if tag == "epoch_loss" else 0.25)
            events.append(
                tw.tf2(tag, tw.tensor(v, dtype, form), s, "scalars" if s == 0 else None)
            )
    events.append(
        tw.tf2("note", tw.tensor(1.0), 3, "text")
    )  # 0-d, but not a scalar plugin
    events.append(tw.tf2("plain", tw.tensor(1.0), 3, None))  # never said to be a scalar
    tw.write(tmp_path / NAME, events)
    got = points(read_all(tmp_path / NAME))
    assert set(got) == {"epoch_loss", "epoch_acc"}
    for tag in got:
        assert got[tag] == accumulated(tmp_path, tag, tensors=True)
        assert len(got[tag]) == 40
    assert got["epoch_acc"][3] == (3, 1.0)


def test_histograms_proto_and_tf2_tensor_form(tmp_path):
    values = np.random.default_rng(0).normal(size=1000)
    counts, edges = np.histogram(values, bins=8)
    rows = np.stack([edges[:-1], edges[1:], counts], axis=1)
    events = [tw.version_event(), tw.histo("w", values, 3)]
    events += [tw.tf2("g", tw.tensor(rows, tw.DT_DOUBLE, dims=rows.shape), s, "histograms" if s == 0 else None)
               for s in range(3)]  # fmt: skip
    tw.write(tmp_path / NAME, events)
    up = read_all(tmp_path / NAME)
    w = [h for h in up.histograms if h.tag == "w"]
    g = [h for h in up.histograms if h.tag == "g"]
    assert (
        len(w) == 1 and w[0].num == 1000 and w[0].min == values.min() and w[0].step == 3
    )
    assert np.allclose(w[0].sum_squares, (values**2).sum())
    assert [h.step for h in g] == [0, 1, 2]
    assert g[2].num == 1000 and np.array_equal(g[2].bucket_limit, edges[1:])
    assert g[2].min == edges[0] and g[2].max == edges[-1]
    assert not up.scalars


def test_lfs_pointer_zero_byte_and_foreign_files(tmp_path):
    lfs = tmp_path / "lfs" / NAME
    lfs.parent.mkdir()
    lfs.write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12345\n"
    )
    up = read_all(lfs)
    (p,) = up.problems
    assert "Git LFS" in p.message and not up.scalars
    junk = tmp_path / "junk" / NAME
    junk.parent.mkdir()
    junk.write_bytes(b"this is a text file, not TFRecord framing at all" * 3)
    (p,) = read_all(junk).problems
    assert "not a TensorBoard event file" in p.message and p.severity == "error"
    empty = tmp_path / NAME
    empty.write_bytes(b"")
    src = TfEventsSource(empty, tmp_path)
    (p,) = src.poll().problems
    assert "empty" in p.message
    assert not src.poll()  # said once
    tw.write(empty, [tw.version_event(), tw.simple("x", 4.0, 1)], mode="ab")
    assert points(src.poll()) == {"x": [(1, 4.0)]}


def test_records_larger_than_a_read_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(tfevents, "CHUNK", 64)
    events = [tw.version_event(), tw.histo("h", np.arange(5000.0), 1)]
    events += [tw.simple("x", float(s), s) for s in range(50)]
    tw.write(tmp_path / NAME, events)
    up = read_all(tmp_path / NAME)
    assert len(up.histograms) == 1 and len(points(up)["x"]) == 50


def test_probe_by_name_and_by_content(tmp_path):
    data = b"".join(tw.records([tw.version_event()]))
    assert probe(Path("x/events.out.tfevents.1.host.profile-empty"), b"") >= 100
    assert probe(Path("x/events.out.tfevents.1.host.2.v2"), data) >= 100
    assert 0 < probe(Path("x/renamed.bin"), data) < 100
    assert probe(Path("x/metrics.csv"), b"step,loss\n0,1.0\n") == 0
    path = tmp_path / NAME
    path.write_bytes(data)
    assert registry.choose(path) is tfevents


_FUZZ_EVENTS = (
    [tw.version_event()]
    + [tw.simple(t, s / 7, s) for s in range(20) for t in ("a", "b")]
    + [
        tw.tf2("c", tw.tensor(s / 3), s, "scalars" if s == 0 else None)
        for s in range(10)
    ]
    + [tw.histo("h", np.arange(20.0), 3), tw.session_start(5)]
)
_FUZZ_DATA = b"".join(tw.records(_FUZZ_EVENTS))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(_FUZZ_DATA) - 1), st.integers(1, 255)), max_size=4
    ),
    cut=st.integers(0, len(_FUZZ_DATA)),
)
def test_corrupted_or_cut_files_never_raise_nor_invent_points(tmp_path, flips, cut):
    data = bytearray(_FUZZ_DATA[:cut])
    for at, mask in flips:
        if at < len(data):
            data[at] ^= mask
    path = tmp_path / NAME
    path.write_bytes(bytes(data))
    src = TfEventsSource(path, tmp_path)
    up = src.poll()
    src.close()
    written = {
        (e.summary.value[0].tag, e.step) for e in _FUZZ_EVENTS if e.HasField("summary")
    }
    for tag, pts in points(up).items():
        assert {(tag, s) for s, _ in pts} <= written
    for p in up.problems:
        assert p.message and p.severity in ("warning", "error")
