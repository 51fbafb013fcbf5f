"""Alerts: the bytes written to the terminal, a real shell command, a real loopback HTTP
server, and each finding announced once even when the detector says it again."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from hookserver import HookServer
from mlmon_tui.analysis.findings import Finding
from mlmon_tui.analysis.monitor import HealthMonitor
from mlmon_tui.app.alerts import AlertOptions, Alerter, terminal
from mlmon_tui.app.alerts.payload import alert_key, environment, payload
from mlmon_tui.sources.base import ScalarBatch, Update
from mlmon_tui.store import Store


def nan_finding(step=150, run="exp/a", severity="error", kind="nan", tag="train/loss"):
    return Finding(kind, severity, run, tag, step, 1e9 + step, float("nan"),
                   f"{tag} became NaN at step {step}")


@dataclass(slots=True)
class GroupedFinding(Finding):
    """A finding as the grouping detectors emit it: one event on several tags."""

    tags: list = field(default_factory=list)


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- what is said --------------------------------------------------------------------------

def test_payload_is_the_check_json_plus_text():
    f = nan_finding()
    d = payload(f)
    assert {k: d[k] for k in f.to_dict(extra=False)} == f.to_dict(extra=False)
    assert d["value"] == "NaN"  # JSON has no NaN: said as a string, as `check --json` does
    assert d["text"].startswith("mlmon-tui ERROR: nan in exp/a on train/loss at step 150")
    assert d["tags"] == ["train/loss"]  # as `check --json` gives it: `tag` is the first
    json.dumps(d, allow_nan=False)
    env = environment(f)
    assert env == {"MLMON_RUN": "exp/a", "MLMON_TAG": "train/loss", "MLMON_KIND": "nan",
                   "MLMON_SEVERITY": "error", "MLMON_STEP": "150",
                   "MLMON_MESSAGE": "train/loss became NaN at step 150"}
    assert environment(Finding("gpu_idle", "warning", "r", "gpu", None, 5.0, 3.0, "m"))[
        "MLMON_STEP"] == ""


def test_grouped_finding_keeps_first_tag_and_lists_tags():
    tags = [f"grad/layer{i}" for i in range(7)]
    f = GroupedFinding("exploding_gradients", "warning", "r", tags[0], 40, 1.0, 9.0,
                       "gradient norms jumped", tags=tags)
    d = payload(f)
    assert d["tag"] == "grad/layer0" and d["tags"] == tags
    assert "grad/layer0, grad/layer1, grad/layer2 and 4 more" in d["text"]
    assert environment(f)["MLMON_TAGS"].count(",") == 6
    # the key is about the event: the same tags in another order are the same event
    g = GroupedFinding("exploding_gradients", "warning", "r", tags[0], 40, 1.0, 9.0, "x",
                       tags=list(reversed(tags)))
    assert alert_key(f) == alert_key(g) != alert_key(nan_finding())


# -- terminal ------------------------------------------------------------------------------

def test_osc_sequences_bytes():
    assert terminal.osc9("hello") == "\x1b]9;hello\x07"
    assert terminal.osc777("mlmon-tui: error in a", "nan; at 3") == \
        "\x1b]777;notify;mlmon-tui: error in a;nan, at 3\x07"
    # a message cannot end the sequence early or smuggle another one
    evil = terminal.osc9("bad\x07\x1b]52;c;payload\x1b\\ end\n")
    assert evil.count("\x07") == 1 and evil.count("\x1b") == 1 and evil.endswith("end \x07")
    assert terminal.osc9("3 new errors") == "\x1b]9; 3 new errors\x07"  # ConEmu: 9;<n> is a command
    long = terminal.osc9("x" * 1000)
    assert len(long) < 200


def test_passthrough_and_terminal_choice():
    plain = {"TERM": "xterm-256color"}
    both = terminal.notification("T", "B", plain)
    assert both == "\x1b]9;T: B\x07\x1b]777;notify;T;B\x07"
    tmux = terminal.notification("T", "B", {"TMUX": "/tmp/tmux-1/default,1,0", "TERM": "tmux-256color"})
    assert tmux == ("\x1bPtmux;\x1b\x1b]9;T: B\x07\x1b\\"
                    "\x1bPtmux;\x1b\x1b]777;notify;T;B\x07\x1b\\")
    assert terminal.notification("T", "B", {"STY": "1.pts", "TERM": "screen"}).startswith(
        "\x1bP\x1b]9;")
    assert terminal.notification("T", "B", {"TERM_PROGRAM": "iTerm.app"}) == "\x1b]9;T: B\x07"
    assert terminal.notification("T", "B", {"TERM": "xterm-kitty"}) == "\x1b]9;T: B\x07"
    assert terminal.notification("T", "B", {"TERM_PROGRAM": "WezTerm"}) == \
        "\x1b]777;notify;T;B\x07"  # shows both kinds: one notification, not two
    assert terminal.notification("T", "B", {"TERM": "foot"}) == "\x1b]777;notify;T;B\x07"
    assert terminal.notification("T", "B", {"TERM": "linux"}) == ""  # would print the text


def test_terminal_output_once_per_new_error():
    al = Alerter(AlertOptions(), env={"TERM": "xterm"})
    al.observe([nan_finding(severity="warning", kind="spike")])
    assert al.terminal_output() == ""  # warnings do not ring
    al.observe([nan_finding()])
    out = al.terminal_output()
    assert out.startswith("\a\x1b]9;mlmon-tui: error in exp/a: nan on train/loss at step 150")
    assert "\x1b]777;notify;mlmon-tui: error in exp/a;" in out
    al.observe([nan_finding()])
    assert al.terminal_output() == ""
    al.observe([nan_finding(step=151, run="b"), nan_finding(step=152, run="c")])
    assert "\x1b]777;notify;mlmon-tui: 2 new errors;b: nan" in al.terminal_output()
    quiet = Alerter(AlertOptions(bell=False, notify="none"))
    quiet.observe([nan_finding()])
    assert quiet.terminal_output() == ""


# -- once per session ------------------------------------------------------------------------

def _batch(step, value, source="f1"):
    step = np.asarray(step, np.int64)
    return ScalarBatch("r", "loss", step, 1e9 + step.astype(float), np.asarray(value, float),
                       source=source)


def test_each_finding_announced_once_across_detector_restarts(tmp_path):
    out = tmp_path / "calls"
    al = Alerter(AlertOptions(on_finding=f"cat >> {out}; echo >> {out}"), sync=True)
    store, mon = Store(), HealthMonitor()
    bad = np.linspace(2, 1, 200)
    bad[150] = np.nan
    mon.update(store, store.apply(Update(scalars=[_batch(range(200), bad)])), now=1e9 + 300)
    assert [f.kind for f in mon.findings] == ["nan"]
    for _ in range(3):  # redraws: the same list again and again
        al.observe(mon.findings)
    # the file is rewritten: the series state is rebuilt and the NaN found afresh
    mon.update(store, store.apply(Update(resets=["f1"], scalars=[_batch(range(200), bad)])),
               now=1e9 + 300)
    al.observe(mon.findings)
    # a fresh monitor (a restarted analysis) finds it again
    again = HealthMonitor()
    again.update(store, None, now=1e9 + 300)
    assert [(f.kind, f.step) for f in again.findings] == [("nan", 150)]
    al.observe(again.findings)
    calls = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert [(c["kind"], c["step"]) for c in calls] == [("nan", 150)]
    # a new event (the file rewritten again, its NaN now later) is announced
    later = np.linspace(2, 1, 200)
    later[180] = np.nan
    mon.update(store, store.apply(Update(resets=["f1"], scalars=[_batch(range(200), later)])),
               now=1e9 + 300)
    assert [(f.kind, f.step) for f in mon.findings] == [("nan", 180)]
    al.observe(mon.findings)
    calls = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert [(c["kind"], c["step"]) for c in calls] == [("nan", 150), ("nan", 180)]
    assert al.announced == 2


def test_raised_severity_is_announced_again_and_level_filters(tmp_path):
    out = tmp_path / "calls"
    al = Alerter(AlertOptions(on_finding=f"echo $MLMON_SEVERITY >> {out}",
                              notify_level="warning"), sync=True)
    al.observe([nan_finding(kind="stall", severity="info")])  # below the level: not run
    assert not out.exists()
    al.observe([nan_finding(kind="stall", severity="warning")])
    al.observe([nan_finding(kind="stall", severity="warning")])
    al.observe([nan_finding(kind="stall", severity="error")])
    al.observe([nan_finding(kind="stall", severity="warning")])  # back down: nothing new
    assert out.read_text().split() == ["warning", "error"]


# -- the command -------------------------------------------------------------------------------

def test_command_gets_json_on_stdin_and_env(tmp_path):
    out = tmp_path / "out"
    cmd = (f"cat > {out}.json; printf '%s|%s|%s|%s|%s|%s' \"$MLMON_RUN\" \"$MLMON_TAG\" "
           f"\"$MLMON_KIND\" \"$MLMON_SEVERITY\" \"$MLMON_STEP\" \"$MLMON_MESSAGE\" > {out}.env")
    al = Alerter(AlertOptions(on_finding=cmd))
    al.observe([nan_finding()])
    assert al.drain(20)
    ch = al.channels[0]
    assert (ch.stats.sent, ch.stats.failed) == (1, 0)
    got = json.loads(Path(f"{out}.json").read_text())
    assert (got["run"], got["kind"], got["step"], got["severity"]) == ("exp/a", "nan", 150, "error")
    assert Path(f"{out}.env").read_text() == \
        "exp/a|train/loss|nan|error|150|train/loss became NaN at step 150"


def test_failing_command_is_counted_with_its_output(tmp_path):
    al = Alerter(AlertOptions(on_finding="echo 'no route to pager' >&2; exit 4"))
    al.observe([nan_finding(step=s) for s in (1, 2)])
    assert al.drain(20)
    s = al.channels[0].stats
    assert (s.sent, s.failed, s.timed_out) == (0, 2, 0)
    assert s.last_problem == "exit status 4: no route to pager"
    assert "0 sent, 2 failed" in "\n".join(al.lines())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def test_slow_command_is_killed_with_its_process_group_and_never_blocks(tmp_path):
    pidfile = tmp_path / "pid"
    # the shell starts a grandchild: killing only the shell would leave `sleep 60` behind
    cmd = f"sleep 60 & echo $! > {pidfile}; wait"
    al = Alerter(AlertOptions(on_finding=cmd, command_timeout=1.5, kill_grace=0.2))
    al.observe([nan_finding()])
    ch = al.channels[0]
    # observe() returned while the command runs: nothing is decided yet
    assert (ch.stats.sent, ch.stats.failed, ch.stats.timed_out) == (0, 0, 0)
    assert wait_for(pidfile.exists) and wait_for(lambda: pidfile.read_text().strip() != "")
    pid = int(pidfile.read_text())
    assert _alive(pid)
    assert al.drain(30)
    assert ch.stats.timed_out == 1 and "killed" in ch.stats.last_problem
    assert wait_for(lambda: not _alive(pid), 5), "the command's child outlived the timeout"


def test_default_command_timeout_is_ten_seconds():
    al = Alerter(AlertOptions(on_finding="true"))
    assert al.channels[0].timeout == 10.0


def test_close_stops_a_running_command(tmp_path):
    pidfile = tmp_path / "pid"
    al = Alerter(AlertOptions(on_finding=f"echo $$ > {pidfile}; exec sleep 60"))
    al.observe([nan_finding()])
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    pid = int(pidfile.read_text())
    al.close()
    assert wait_for(lambda: not _alive(pid), 5)


# -- the webhook -----------------------------------------------------------------------------------

def test_webhook_posts_json_with_text():
    with HookServer() as srv:
        al = Alerter(AlertOptions(webhook=srv.url))
        al.observe([nan_finding()])
        assert al.drain(20)
        (body,) = srv.bodies()
        assert body["kind"] == "nan" and body["step"] == 150 and body["value"] == "NaN"
        assert body["text"].startswith("mlmon-tui ERROR: nan in exp/a")
        assert srv.requests[0]["path"] == "/hooks/secret-token"
        assert srv.requests[0]["headers"]["Content-Type"].startswith("application/json")
        line = "\n".join(al.lines())
        assert "1 sent, 0 failed" in line and "secret-token" not in line  # path is redacted


def test_webhook_retries_a_failing_server_until_it_recovers():
    with HookServer(statuses=[503, 502]) as srv:
        al = Alerter(AlertOptions(webhook=srv.url, webhook_backoff=0.05))
        al.observe([nan_finding()])
        assert al.drain(20)
        s = al.channels[0].stats
        assert (s.sent, s.failed, s.retries) == (1, 0, 2)
        assert len(srv.requests) == 3
        assert len({r["body"] for r in srv.requests}) == 1  # the same body each time


def test_webhook_gives_up_after_bounded_retries_and_not_on_client_errors():
    with HookServer(statuses=[500] * 10) as srv:
        al = Alerter(AlertOptions(webhook=srv.url, webhook_backoff=0.01, webhook_attempts=3))
        al.observe([nan_finding()])
        assert al.drain(20)
        s = al.channels[0].stats
        assert (s.sent, s.failed, len(srv.requests)) == (0, 1, 3)
        assert s.last_problem.startswith("HTTP 500")
    with HookServer(statuses=[404]) as srv:
        al = Alerter(AlertOptions(webhook=srv.url, webhook_backoff=0.01))
        al.observe([nan_finding()])
        assert al.drain(20)
        assert (al.channels[0].stats.failed, len(srv.requests)) == (1, 1)


def test_hanging_webhook_times_out_without_blocking_and_drops_when_full():
    with HookServer(hang=True) as srv:
        al = Alerter(AlertOptions(webhook=srv.url, webhook_timeout=1.0, webhook_attempts=2,
                                  webhook_backoff=0.01, queue_size=1))
        al.observe([nan_finding(step=1)])
        assert srv.arrived.wait(20)  # the server holds the request...
        assert not srv.release.is_set()
        # ...while the caller goes on: two more findings, one queued, one dropped
        al.observe([nan_finding(step=2), nan_finding(step=3)])
        ch = al.channels[0]
        assert ch.stats.dropped == 1
        assert al.drain(30)
        assert ch.stats.timed_out == 2 and ch.stats.sent == 0
        assert "no answer within 1 s" in ch.stats.last_problem


def test_unreachable_webhook_in_check_mode_gives_up_early():
    with HookServer() as srv:
        url = srv.url
    # the server is gone: connection refused; the synchronous (check) mode stops trying
    al = Alerter(AlertOptions(webhook=url, webhook_backoff=0.01), sync=True)
    al.observe([nan_finding(step=s) for s in range(10)])
    s = al.channels[0].stats
    assert s.failed == 10 and s.skipped == 7 and s.sent == 0
    assert al.problems() and "gave up" in al.problems()[0]


def test_bad_webhook_url_is_refused():
    with pytest.raises(ValueError, match="not an http"):
        Alerter(AlertOptions(webhook="file:///etc/passwd"))
    with pytest.raises(ValueError, match="notify-level"):
        AlertOptions(notify_level="loud")


def test_check_mode_keeps_running_a_command_that_exits_non_zero(tmp_path):
    out = tmp_path / "calls"
    # a filter: exits 1 for what it does not want; every finding still gets its call
    al = Alerter(AlertOptions(on_finding=f"echo $MLMON_STEP >> {out}; exit 1"), sync=True)
    al.observe([nan_finding(step=s) for s in range(6)])
    assert out.read_text().split() == [str(s) for s in range(6)]
    assert al.channels[0].stats.failed == 6 and al.channels[0].stats.skipped == 0


def test_check_mode_gives_up_on_a_command_that_keeps_hanging():
    al = Alerter(AlertOptions(on_finding="exec sleep 60", command_timeout=0.3, kill_grace=0.1),
                 sync=True)
    al.observe([nan_finding(step=s) for s in range(5)])
    s = al.channels[0].stats
    assert (s.timed_out, s.skipped, s.failed) == (3, 2, 2)


def test_an_event_whose_tag_group_grows_is_not_announced_again():
    al = Alerter(AlertOptions())
    mk = lambda tags, step=40: GroupedFinding(  # noqa: E731
        "exploding_gradients", "warning", "r", tags[0], step, 1.0, 9.0, "m", tags=tags)
    assert len(al.observe([mk(["grad/a", "grad/b"])])) == 1
    assert al.observe([mk(["grad/a", "grad/b", "grad/c"])]) == []  # one more layer joined
    assert al.observe([mk(["grad/c"])]) == []
    assert len(al.observe([mk(["grad/z"])])) == 1  # other tags: another event
    assert len(al.observe([mk(["grad/a"], step=90)])) == 1  # another onset: another event
    assert al.announced == 3


def test_webhook_honours_retry_after():
    # the backoff alone would wait a minute: the server's Retry-After: 0 is what is followed
    with HookServer(statuses=[(429, {"Retry-After": "0"})]) as srv:
        al = Alerter(AlertOptions(webhook=srv.url, webhook_backoff=60))
        al.observe([nan_finding()])
        assert al.drain(20), "the retry waited for the backoff, not for Retry-After"
        assert al.channels[0].stats.sent == 1 and len(srv.requests) == 2
        al.close()
