"""Every real event file under shared/real-logs read by us and by tbparse: the same points.

tbparse puts `simple_value` scalars in `.scalars` and TF2 tensor-form ones either there or in
`.tensors`; both are compared (tensors: numeric, one element). One legitimate difference:
we apply TensorBoard's out-of-order orphan rule within a file (an event whose step is below
the most recent one drops the earlier points of its tags at or after that step), which
TensorBoard's EventAccumulator, and so tbparse, applies only to files without a
`brain.Event:2` version header. Lightning logs `hp_metric` at step 0 both when training
starts and when it ends: we keep the later point, tbparse keeps both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reallogs import PRESENT, REAL_LOGS, REASON

from mlmon_tui.sources.logs.tfevents import read_all

ROOT = REAL_LOGS
FILES = sorted(ROOT.rglob("*tfevents*")) if PRESENT else []
pytestmark = [
    pytest.mark.skipif(not FILES, reason=REASON),
    pytest.mark.filterwarnings("ignore:The inplace keyword"),  # inside tbparse
]


def _ours(path: Path):
    up = read_all(path)
    got: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for b in up.scalars:
        for s, w, v in zip(b.step.tolist(), b.wall.tolist(), b.value.tolist()):
            got.setdefault((b.tag, s), []).append((w, v))
    return up, got


def _tbparse(path: Path):
    from tbparse import SummaryReader

    reader = SummaryReader(str(path), pivot=False, extra_columns={"wall_time"})
    rows: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for df, from_tensors in ((reader.scalars, False), (reader.tensors, True)):
        if not len(df):
            continue
        for tag, step, wall, value in zip(df.tag, df.step, df.wall_time, df.value):
            if from_tensors:
                arr = np.asarray(value)
                if arr.dtype.kind not in "fiu" or arr.size != 1:
                    continue  # strings (graphs, text, hparams), images, histograms
                value = arr.reshape(-1)[0]
            rows.setdefault((tag, int(step)), []).append((float(wall), float(value)))
    return reader, rows


@pytest.mark.parametrize(
    "path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES] if FILES else []
)
def test_scalars_equal_tbparse(path):
    up, ours = _ours(path)
    reader, theirs = _tbparse(path)
    assert set(ours) == set(theirs)
    equal = relogged = 0
    for key, want in theirs.items():
        got = ours[key]
        if len(got) < len(want):  # the orphan rule kept only the latest (see above)
            want = want[len(want) - len(got) :]
            relogged += 1
        assert len(got) == len(want), key
        got, want = np.array(sorted(got)), np.array(sorted(want))
        assert np.allclose(got[:, 0], want[:, 0], rtol=0, atol=1e-3), key  # wall time
        assert np.allclose(got[:, 1], want[:, 1], rtol=1e-6, atol=1e-7), key  # value
        equal += len(got)
    assert equal == sum(len(b) for b in up.scalars)
    assert relogged <= 1  # only Lightning's hp_metric in this corpus
    hist_tags = set(reader.histograms.tag) if len(reader.histograms) else set()
    for tag in hist_tags:
        ours_h = sorted(h.step for h in up.histograms if h.tag == tag)
        assert ours_h == sorted(
            reader.histograms[reader.histograms.tag == tag].step.tolist()
        )
    size = path.stat().st_size
    head = path.read_bytes()[:64]
    if size == 0:
        assert [p.message for p in up.problems] == [
            "empty event file (0 bytes); waiting for data"
        ]
    elif head.startswith(b"version https://git-lfs"):
        assert len(up.problems) == 1 and "Git LFS" in up.problems[0].message
    else:
        assert not up.problems


def test_corpus_has_both_scalar_forms():
    """The comparison above covers simple_value and tensor-form files."""
    kinds = set()
    for path in FILES:
        _, ours = _ours(path)
        if ours:
            data = path.read_bytes()
            kinds.add("tensor" if b"\x0a\x07scalars" in data else "simple")
    assert kinds == {"tensor", "simple"}
