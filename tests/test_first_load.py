"""The first load of the health analysis takes every point at once (vectorised, with the
plateau checks that cannot matter skipped: analysis/firstload.py) and hands its state to the
incremental detectors. Whatever way the points arrive, the findings are the same: every
labelled curve (positives and negatives) fed all at once, in random chunks, as a first load of
part of it followed by chunks, and point by point for the short ones."""

import pytest

from curves.catalog import ALL, stratified_seeds
from curves.harness import feed

from mlmon_tui.analysis.progress import PlateauDetector

ONE_BY_ONE_MAX = 1500  # points: longer cases would take seconds point by point


def _found(monitor):
    return sorted((f.kind, f.run, f.tag, f.step, f.severity) for f in monitor.findings)


BULK_PATHS = ("plateau", "divergence", "exploding", "spike")  # those with a bulk path of their own


def _cases():
    """The first stratified seed of every generator; two for those of the bulk paths."""
    return [(name, seed) for name in sorted(ALL)
            for seed in stratified_seeds(name, 3)[: 1 + any(k in name for k in BULK_PATHS)]]


@pytest.mark.parametrize("name,seed", _cases())
def test_first_load_gives_the_same_findings_as_points_fed_in_pieces(name, seed):
    case = ALL[name](seed)
    bulk, store = feed(case, chunk=None, seed=seed)
    want = _found(bulk)
    if case.expect:
        assert any(k == e.kind for e in case.expect for k, *_ in want), "labelled kind found"
    ways = {"random chunks": dict(chunk=0), "first half at once, then chunks of 37":
            dict(chunk=37, head=0.5)}
    if store.total_points() <= ONE_BY_ONE_MAX:
        ways["one by one"] = dict(chunk=1)
    for way, kw in ways.items():
        monitor, _ = feed(case, seed=seed, **kw)
        assert _found(monitor) == want, way


def test_plateau_first_load_replays_only_the_last_stretch(monkeypatch):
    """The bulk path really is taken, judges far fewer plateau checks than walking every
    block, and still reports the plateau a block-by-block walk reports."""
    case = ALL["plateau"](stratified_seeds("plateau", 3)[0])
    calls = {"bulk": 0, "walk": 0}
    judge = PlateauDetector._judge

    def counting(key):
        def f(self, view, b, age):
            calls[key] += 1
            return judge(self, view, b, age)
        return f

    monkeypatch.setattr(PlateauDetector, "_judge", counting("bulk"))
    bulk, _ = feed(case, chunk=None)
    monkeypatch.setattr(PlateauDetector, "_judge", counting("walk"))
    monkeypatch.setattr("mlmon_tui.analysis.monitor.feed_first",
                        lambda d, view, n: d.feed(view, 0, n))
    walk, _ = feed(case, chunk=None)
    assert any(f.kind == "plateau" for f in bulk.findings)
    assert _found(bulk) == _found(walk)
    assert 0 < calls["bulk"] < calls["walk"]
