"""The socket server with real sockets: addresses, permissions, files written, peers."""

from __future__ import annotations

import json
import math
import os
import socket
import stat
import time
from pathlib import Path

import pytest

from mlmon_tui.sources.socket import protocol as proto
from mlmon_tui.sources.socket.server import SocketServer


def connect(address: str) -> socket.socket:
    kind, where = proto.parse_address(address)
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(where))
    else:
        s = socket.create_connection(where)
    s.settimeout(5)
    return s


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def server(tmp_path):
    srv = SocketServer(tmp_path / "logs", idle_timeout=30).start()
    yield srv
    srv.stop()


def test_default_address_permissions_and_address_file(server, tmp_path):
    sock_path = tmp_path / "logs" / ".mlmon" / "mlmon.sock"
    assert server.address == f"unix:{sock_path}"
    assert stat.S_ISSOCK(os.stat(sock_path).st_mode)
    assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sock_path.parent).st_mode) == 0o700
    assert (sock_path.parent / "address").read_text().strip() == server.address
    server.stop()
    assert not sock_path.exists()
    assert not (sock_path.parent / "address").exists()


def test_messages_land_in_run_jsonl_and_meta(server, tmp_path):
    s = connect(server.address)
    hello = {"type": "hello", "run": "exp/lr-0.1", "pid": 4242, "host": "box",
             "hparams": {"lr": 0.1, "layers": 4}, "meta": {"max_steps": 100}}
    lines = [hello,
             {"step": 1, "metrics": {"loss": 0.5, "grad_norm": 1.25}, "wall_time": 1700000000.0},
             {"run": "other", "step": 2, "metrics": {"loss": None, "acc": "Infinity",
                                                     "x": "-inf", "y": "NaN"}},
             {"step": 3.0, "metrics": {"loss": 0.25, "bad": "text", "b": True, "l": [1]}}]
    before = time.time()
    s.sendall("".join(json.dumps(m) + "\n" for m in lines).encode())
    s.close()
    run_file = tmp_path / "logs" / "exp" / "lr-0.1" / proto.DATA_FILE
    other_file = tmp_path / "logs" / "other" / proto.DATA_FILE
    assert wait_for(lambda: server.stats["messages"] == 3 and other_file.exists()
                    and run_file.exists() and len(run_file.read_text().splitlines()) == 2)
    recs = read_jsonl(run_file)
    assert recs[0] == {"step": 1, "wall_time": 1700000000.0,
                       "metrics": {"loss": 0.5, "grad_norm": 1.25}}
    assert recs[1]["step"] == 3 and recs[1]["metrics"] == {"loss": 0.25}
    assert before <= recs[1]["wall_time"] <= time.time()
    (other,) = read_jsonl(other_file)
    m = other["metrics"]
    assert math.isnan(m["loss"]) and m["acc"] == math.inf and m["x"] == -math.inf
    assert math.isnan(m["y"])
    assert server.stats["bad_values"] == 3
    meta = json.loads((run_file.parent / proto.META_FILE).read_text())
    assert meta["hparams"] == {"lr": 0.1, "layers": 4} and meta["host"] == "box"
    assert 4242 in meta["pids"]
    peers = server.peers
    assert {4242, os.getpid()} <= peers["exp/lr-0.1"]  # hello pid and SO_PEERCRED
    assert os.getpid() in peers["other"]


def test_writes_are_flushed_while_running(server, tmp_path):
    s = connect(server.address)
    s.sendall(b'{"run":"r","step":7,"metrics":{"loss":1}}\n')
    path = tmp_path / "logs" / "r" / proto.DATA_FILE
    # no stop, no close: the periodic flush must make it visible
    assert wait_for(lambda: path.exists() and path.read_text().count("\n") == 1, 2.0)
    s.close()


def test_restart_appends_to_same_file(tmp_path):
    for step in (1, 2):
        with SocketServer(tmp_path) as srv:
            s = connect(srv.address)
            s.sendall(json.dumps({"run": "r", "step": step, "metrics": {"a": step}}).encode()
                      + b"\n")
            s.close()
            assert wait_for(lambda: srv.stats["messages"] == 1)
    assert [r["step"] for r in read_jsonl(tmp_path / "r" / proto.DATA_FILE)] == [1, 2]


def test_stale_socket_replaced_live_one_not_stolen(tmp_path):
    path = tmp_path / ".mlmon" / "mlmon.sock"
    path.parent.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # bound, never listening, then closed: what a crash leaves
    dead.close()
    assert path.exists()
    srv = SocketServer(tmp_path).start()
    try:
        with pytest.raises(RuntimeError, match="already listening"):
            SocketServer(tmp_path).start()
        s = connect(srv.address)  # the live one still works
        s.sendall(b'{"run":"r","step":1,"metrics":{"a":1}}\n')
        s.close()
        assert wait_for(lambda: srv.stats["messages"] == 1)
    finally:
        srv.stop()


def test_regular_file_at_socket_path_is_not_replaced(tmp_path):
    path = tmp_path / "x.sock"
    path.write_text("precious")
    with pytest.raises(RuntimeError, match="not a socket"):
        SocketServer(tmp_path, address=f"unix:{path}").start()
    assert path.read_text() == "precious"


def test_long_logdir_falls_back_to_short_private_path(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with SocketServer(deep) as srv:
        path = Path(srv.address[5:])
        assert len(os.fsencode(str(path))) <= proto.UNIX_PATH_MAX
        assert str(path).startswith(f"/tmp/mlmon-{os.getuid()}-")
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        assert (deep / ".mlmon" / "address").read_text().strip() == srv.address
        s = connect(srv.address)
        s.sendall(b'{"run":"r","step":1,"metrics":{"a":1}}\n')
        s.close()
        assert wait_for(lambda: srv.stats["messages"] == 1)
    assert (deep / "r" / proto.DATA_FILE).exists()


def test_tcp_loopback_and_remote_refused(tmp_path):
    with SocketServer(tmp_path, address="tcp:127.0.0.1:0") as srv:
        assert srv.address.startswith("tcp:127.0.0.1:") and not srv.address.endswith(":0")
        s = connect(srv.address)
        s.sendall(b'{"run":"t","step":5,"metrics":{"a":2}}\n')
        s.close()
        assert wait_for(lambda: srv.stats["messages"] == 1)
    with pytest.raises(ValueError, match="non-loopback"):
        SocketServer(tmp_path, address="tcp:0.0.0.0:0").start()
    srv = SocketServer(tmp_path, address="tcp:0.0.0.0:0", allow_remote=True).start()
    try:
        assert any("non-loopback" in w for w in srv.warnings)
    finally:
        srv.stop()


def test_stop_never_hangs_with_clients_connected(tmp_path):
    srv = SocketServer(tmp_path).start()
    clients = [connect(srv.address) for _ in range(20)]
    clients[0].sendall(b'{"run":"r","step":1,"metrics":{"a":1}}\n{"run":"r","st')
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 3
    assert read_jsonl(tmp_path / "r" / proto.DATA_FILE)[0]["step"] == 1
    for c in clients:
        c.close()
