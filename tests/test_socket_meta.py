"""The metadata reader on files written by a real socket server."""

from __future__ import annotations

import json
import os
import socket

from mlmon_tui.sources.socket import meta as socket_meta
from mlmon_tui.sources.socket import protocol as proto
from mlmon_tui.sources.socket.server import SocketServer
from test_socket_server import connect, wait_for


def test_meta_reader_follows_hello_and_drop_counter(tmp_path):
    with SocketServer(tmp_path) as srv:
        s = connect(srv.address)
        s.sendall(b'{"type":"hello","run":"sweep/a","pid":77,"host":"box",'
                  b'"hparams":{"lr":0.1},"meta":{"max_steps":500}}\n')
        path = tmp_path / "sweep" / "a" / proto.META_FILE
        assert wait_for(path.exists)
        assert socket_meta.probe(path, path.read_bytes()[:4096]) > 0
        assert socket_meta.probe(tmp_path / "trainer_state.json", b"{}") == 0
        src = socket_meta.open_source(path, tmp_path)
        up = src.poll()
        meta = up.meta["sweep/a"]
        assert src.run == "sweep/a"
        assert meta["hparams"] == {"lr": 0.1} and meta["max_steps"] == 500
        assert meta["host"] == "box" and {77, os.getpid()} <= set(meta["pids"])
        assert not src.poll()  # unchanged: nothing new
        s.sendall(json.dumps({"type": "stats", "run": "sweep/a", "client": "c",
                              "dropped": 12}).encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        assert s.recv(1) == b""
        s.close()
    up = src.poll()
    assert up.meta["sweep/a"]["dropped_by_client"] == 12


def test_meta_reader_reports_garbage_once(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    path = run / proto.META_FILE
    path.write_text("{half")
    src = socket_meta.open_source(path, tmp_path)
    first = src.poll()
    assert len(first.problems) == 1 and "unreadable" in first.problems[0].message
    assert not src.poll()
    path.write_text('{"hparams": {"a": 1}}')
    assert src.poll().meta == {"r": {"hparams": {"a": 1}}}
