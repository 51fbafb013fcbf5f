"""Bad clients: each case is counted, and the valid messages around it are all written."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from mlmon_tui.sources.socket import protocol as proto
from mlmon_tui.sources.socket.server import SocketServer, raise_nofile_limit
from test_socket_server import connect, read_jsonl, wait_for


def good(step: int, run: str = "r") -> bytes:
    return json.dumps({"run": run, "step": step, "metrics": {"loss": step / 10}}).encode() + b"\n"


@pytest.fixture
def server(tmp_path):
    srv = SocketServer(tmp_path, idle_timeout=0.5).start()
    yield srv
    srv.stop()


def steps(tmp_path, run="r"):
    path = tmp_path / run / proto.DATA_FILE
    return [r["step"] for r in read_jsonl(path)] if path.exists() else []


@pytest.mark.parametrize("junk, counter", [
    (b"{not json", "malformed_json"),
    (b'{"run":"r","step":1,"metrics":{"a":1}', "malformed_json"),
    (b"[1, 2, 3]", "bad_messages"),
    (b'{"run":"r","metrics":{"a":1}}', "bad_messages"),
    (b'{"run":"r","step":"ten","metrics":{"a":1}}', "bad_messages"),
    (b'{"run":"r","step":1.5,"metrics":{"a":1}}', "bad_messages"),
    (b'{"run":"r","step":1,"metrics":[1]}', "bad_messages"),
    (b'{"type":"bogus","run":"r"}', "bad_messages"),
    (b'{"run":"../x","step":1,"metrics":{"a":1}}', "bad_run_names"),
    (b"\x00\x01\x02\xff\xfe binary \x89PNG", "binary_junk"),
    (b"\xc3\x28 invalid utf-8", "binary_junk"),
])
def test_bad_line_counted_and_neighbours_kept(server, tmp_path, junk, counter):
    s = connect(server.address)
    s.sendall(good(1) + junk + b"\n" + good(2))
    s.close()
    assert wait_for(lambda: server.stats["messages"] == 2)
    assert wait_for(lambda: server.stats[counter] == 1)
    server.stop()
    assert steps(tmp_path) == [1, 2]
    assert not (tmp_path.parent / "x").exists()


def test_bad_values_counted_message_kept(server, tmp_path):
    s = connect(server.address)
    s.sendall(b'{"run":"r","step":1,"metrics":{"ok":1,"s":"abc","o":{},"t":true},'
              b'"wall_time":"yesterday"}\n')
    s.close()
    assert wait_for(lambda: server.stats["messages"] == 1)
    server.stop()
    (rec,) = read_jsonl(tmp_path / "r" / proto.DATA_FILE)
    assert rec["metrics"] == {"ok": 1.0}
    assert server.stats["bad_values"] == 4  # three values and the wall time


def test_oversized_line_discarded_without_unbounded_buffering(server, tmp_path):
    s = connect(server.address)
    s.sendall(good(1))
    big = b'{"run":"r","step":5,"metrics":{"a":"' + b"x" * (3 * proto.MAX_LINE)
    s.sendall(big)  # no newline yet: the server must stop buffering past 1 MiB
    time.sleep(0.2)
    s.sendall(b'"}}\n' + good(2))
    s.close()
    assert wait_for(lambda: server.stats["messages"] == 2)
    assert server.stats["oversized_lines"] == 1
    server.stop()
    assert steps(tmp_path) == [1, 2]


def test_idle_client_timed_out_without_blocking_others(tmp_path):
    server = SocketServer(tmp_path, idle_timeout=1.0).start()
    idle = connect(server.address)  # connects and says nothing
    busy = connect(server.address)
    for i in range(20):
        busy.sendall(good(i))
        time.sleep(0.1)  # keeps `busy` well under the 1 s idle timeout
    assert wait_for(lambda: server.stats["idle_clients"] >= 1, 5)
    assert idle.recv(10) == b""  # the server hung up on it
    busy.close()
    assert wait_for(lambda: server.stats["messages"] == 20)
    assert server.stats["idle_clients"] == 1
    idle.close()
    server.stop()


def test_disconnect_mid_line_counted_not_written(server, tmp_path):
    s = connect(server.address)
    s.sendall(good(1) + b'{"run":"r","step":2,"metrics":{"a"')
    s.close()
    assert wait_for(lambda: server.stats["disconnected_midline"] == 1)
    server.stop()
    assert steps(tmp_path) == [1]


def test_client_drop_counter_summed_across_reconnects(server, tmp_path):
    for dropped in (3, 7):  # cumulative counter of one client, sent on two connections
        s = connect(server.address)
        s.sendall(json.dumps({"type": "stats", "run": "r", "pid": 1, "client": "abc",
                              "dropped": dropped}).encode() + b"\n")
        s.close()
    assert wait_for(lambda: server.stats["client_stats"] == 2)
    assert server.stats["dropped_by_client"] == 7
    meta = json.loads((tmp_path / "r" / proto.META_FILE).read_text())
    assert meta["dropped_by_client"] == 7


def test_500_simultaneous_connections(tmp_path):
    soft = raise_nofile_limit()
    if soft < 1100:
        pytest.skip(f"open-files limit {soft} is too low for 500 client+server sockets")
    with SocketServer(tmp_path, idle_timeout=30) as srv:
        socks = [connect(srv.address) for _ in range(500)]
        assert wait_for(lambda: srv.stats["active"] == 500)
        for i, s in enumerate(socks):
            s.sendall(good(i, run=f"c{i % 10}"))
        for s in socks:
            s.close()
        assert wait_for(lambda: srv.stats["messages"] == 500, 10)
        assert wait_for(lambda: srv.stats["active"] == 0)
    total = sum(len(steps(tmp_path, f"c{k}")) for k in range(10))
    assert total == 500
    assert srv.stats["connections"] == 500


def test_random_junk_never_kills_server(server, tmp_path):
    rnd = os.urandom(200_000)
    s = connect(server.address)
    s.sendall(good(1) + rnd + b"\n" + good(2))
    s.close()
    assert wait_for(lambda: server.stats["messages"] == 2)
    later = connect(server.address)
    later.sendall(good(3))
    later.close()
    assert wait_for(lambda: server.stats["messages"] == 3)
    server.stop()
    assert steps(tmp_path) == [1, 2, 3]
    st = server.stats
    assert st["binary_junk"] + st["malformed_json"] + st["oversized_lines"] >= 1


def test_half_closed_socket_during_send(server, tmp_path):
    s = connect(server.address)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.sendall(good(1))
    s.close()  # abortive close
    assert wait_for(lambda: server.stats["active"] == 0)
    ok = connect(server.address)
    ok.sendall(good(2))
    ok.close()
    assert wait_for(lambda: server.stats["messages"] >= 1)


def test_lone_surrogate_names_and_keys(server, tmp_path):
    s = connect(server.address)
    s.sendall(b'{"run":"\\ud800","step":1,"metrics":{"a":1}}\n'
              b'{"type":"hello","run":"x\\udc80y"}\n'
              b'{"run":"r","step":1,"metrics":{"\\ud800":1,"b":2}}\n' + good(2))
    s.close()
    assert wait_for(lambda: server.stats["messages"] == 2)
    server.stop()
    assert server.stats["bad_run_names"] == 2
    assert server.stats["internal_errors"] == 0
    assert steps(tmp_path) == [1, 2]
