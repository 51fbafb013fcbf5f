"""Run names from the network never lead a write outside the log dir."""

from __future__ import annotations

import json
import os
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlmon_tui.sources.socket import protocol as proto
from mlmon_tui.sources.socket.server import SocketServer
from test_socket_server import connect, wait_for

HOSTILE = ["..", "../x", "a/../../x", "/etc/x", "/", ".", "./a", "a/./b", "a//b", "a/",
           "C:\\x", "c:x", "a\\..\\b", "a\x00b", "a\nb", "\x7f", "", "x" * 201, ".mlmon",
           "a/.hidden", "~/../x"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_rejected(name):
    assert proto.check_run_name(name) is None


@pytest.mark.parametrize("name", ["run", "sweep/lr-0.1", "a b:c", "日本語", "x" * 200, "a/b/c"])
def test_ordinary_names_kept(name):
    assert proto.check_run_name(name) == name


def all_files(root: str) -> set[str]:
    out = set()
    for d, dirs, files in os.walk(root):
        out.update(os.path.join(d, f) for f in files)
        out.update(os.path.join(d, x) for x in dirs)
    return out


def test_symlink_inside_logdir_cannot_lead_outside(tmp_path):
    logs, outside = tmp_path / "logs", tmp_path / "outside"
    logs.mkdir()
    outside.mkdir()
    (logs / "link").symlink_to(outside, target_is_directory=True)
    with SocketServer(logs) as srv:
        s = connect(srv.address)
        s.sendall(b'{"run":"link","step":1,"metrics":{"a":1}}\n'
                  b'{"run":"link/sub","step":1,"metrics":{"a":1}}\n'
                  b'{"run":"ok","step":1,"metrics":{"a":1}}\n')
        s.close()
        assert wait_for(lambda: srv.stats["messages"] == 1)
        assert srv.stats["bad_run_names"] == 2
    assert list(outside.iterdir()) == []


name_chars = st.sampled_from(list("ab./\\:~\x00\n\x1f C-") + ["..", "../", "/..", "é"])
names = st.one_of(st.lists(name_chars, max_size=12).map("".join), st.text(max_size=30),
                  st.sampled_from(HOSTILE))


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    logs = base / "logs"
    srv = SocketServer(logs).start()
    yield base, logs, srv
    srv.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(names, min_size=1, max_size=8))
def test_fuzzed_names_never_write_outside(shared_server, batch):
    base, logs, srv = shared_server
    before = srv.stats
    s = connect(srv.address)
    payload = b""
    for name in batch:
        payload += json.dumps({"run": name, "step": 1, "metrics": {"a": 1}}).encode() + b"\n"
        payload += json.dumps({"type": "hello", "run": name, "hparams": {}}).encode() + b"\n"
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(1) == b""  # the server closed its side: every line was processed
    s.close()
    after = srv.stats
    handled = sum(after[k] - before[k]
                  for k in ("messages", "hellos", "bad_run_names", "write_errors"))
    assert handled >= 2 * len(batch)
    root = os.path.realpath(logs)
    for path in all_files(str(base)):
        real = os.path.realpath(path)
        assert real == root or real.startswith(root + os.sep), path
    for name in batch:
        if proto.check_run_name(name) is None:
            continue
        assert os.path.realpath(os.path.join(logs, name)).startswith(root + os.sep)
