"""Histograms over the socket: validation, the server's record, the JSONL replay, and that
records without them read as before."""

from __future__ import annotations

import json
import socket

from mlmon_tui.sources.logs.jsonl import JsonlSource
from mlmon_tui.sources.socket import protocol as proto
from mlmon_tui.sources.socket.server import SocketServer
from mlmon_tui.store.percentiles import percentiles
from test_socket_server import read_jsonl, wait_for

GOOD = {"edges": [0.0, 1.0, 2.0], "counts": [3, 1]}


def test_histograms_are_checked():
    ok, bad = proto.parse_histograms({"histograms": {
        "a": GOOD,
        "short": {"edges": [0.0, 1.0], "counts": [1, 2]},
        "descending": {"edges": [2.0, 1.0, 0.0], "counts": [1, 1]},
        "negative": {"edges": [0, 1], "counts": [-1]},
        "nan": {"edges": [0, "nan"], "counts": [1]},
        "not an object": [1, 2],
        "": GOOD,
    }})
    assert list(ok) == ["a"] and bad == 6
    assert proto.parse_histograms({}) == ({}, 0)
    assert proto.parse_histograms({"histograms": 3}) == ({}, 1)
    assert proto.parse_histogram({"edges": [0.0, 0.0], "counts": [5]}) is not None  # one value
    # `range` stands for equal-width edges; it must be two finite numbers in order
    assert proto.parse_histogram({"range": [-1, 2], "counts": [1, 0, 4]}) == {
        "edges": [-1.0, 0.0, 1.0, 2.0], "counts": [1.0, 0.0, 4.0]}
    for rng in ([2, -1], [0, "inf"], [0], "0,1", [0, None]):
        assert proto.parse_histogram({"range": rng, "counts": [1, 1]}) is None, rng


def test_the_client_sends_equal_width_buckets_as_a_range(tmp_path):
    """(low, high) edges travel as `range`, whether to a server or into the spool file
    the monitor reads later; both give the same equal-width edges."""
    from mlmon_tui.client import Monitor

    hists = {"u": ([0.0, 4.0], [1, 2, 3, 4]), "e": ([0.0, 1.0, 3.0], [5, 6]),
             "one": ([2.0, 2.0], [7])}
    spool = tmp_path / "spool" / "r.jsonl"
    with Monitor(run="r", address=str(tmp_path / "nobody.sock"), spool=str(spool)) as mon:
        mon.log_histograms(1, hists)
    sent = read_jsonl(spool)[0]["histograms"]
    assert sent["u"] == {"range": [0.0, 4.0], "counts": [1, 2, 3, 4]} and "edges" in sent["e"]
    with SocketServer(tmp_path / "srv") as srv:
        with Monitor(run="r", address=srv.address) as mon:
            mon.log_histograms(1, hists)
            assert mon.flush()
        assert wait_for(lambda: srv.stats["messages"] == 1)
    got = read_jsonl(tmp_path / "srv" / "r" / proto.DATA_FILE)[0]["histograms"]
    assert got["u"]["edges"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert got["e"]["edges"] == [0.0, 1.0, 3.0] and got["one"]["edges"] == [2.0, 2.0]
    replay = {h.tag: h for h in JsonlSource(spool, spool.parent).poll().histograms}
    assert replay["u"].num == 10 and percentiles(replay["u"])[-1] == 4.0


def test_server_writes_histograms_and_the_replay_reads_them(tmp_path):
    with SocketServer(tmp_path) as srv:
        kind, where = proto.parse_address(srv.address)
        s = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET)
        s.connect(str(where) if kind == "unix" else where)
        msgs = [
            {"run": "r", "step": 1, "metrics": {"loss": 1.0}},  # an old client's message
            {"run": "r", "step": 2, "metrics": {}, "histograms": {"act/fc": GOOD,
                                                                  "bad": {"edges": [1]}}},
        ]
        s.sendall("".join(json.dumps(m) + "\n" for m in msgs).encode())
        assert wait_for(lambda: srv.stats["messages"] == 2)
        s.close()
        assert srv.stats["bad_values"] == 1
    path = tmp_path / "r" / proto.DATA_FILE
    recs = read_jsonl(path)
    assert "histograms" not in recs[0]
    assert recs[1]["histograms"] == {"act/fc": {"edges": [0.0, 1.0, 2.0], "counts": [3.0, 1.0]}}
    up = JsonlSource(path, tmp_path).poll()
    assert [(b.tag, b.step.tolist()) for b in up.scalars] == [("loss", [1])]  # no stray tags
    (h,) = up.histograms
    assert (h.run, h.tag, h.step, h.num, h.layout) == ("r", "act/fc", 2, 4.0, "rows")
    assert percentiles(h)[0] == 0.0 and percentiles(h)[-1] == 2.0
