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
