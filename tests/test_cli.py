import subprocess
import sys

from mlmon_tui import __version__


def test_version_flag_prints_version():
    out = subprocess.run(
        [sys.executable, "-m", "mlmon_tui", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"mlmon-tui {__version__}"


import csv  # noqa: E402
import json  # noqa: E402

import pytest  # noqa: E402


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mlmon_tui", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture
def demo_tree(tmp_path):
    """A fixed history of the demo's runs: every input format, real files."""
    from mlmon_tui.app import demo_write

    root = tmp_path / "logs"
    demo_write.write(root, rate=4.0, until=120, t0=1_700_000_000.0)
    return root


def test_missing_path_is_one_line_and_exit_2(tmp_path):
    for args in ([tmp_path / "nope"], ["export", tmp_path / "nope"],
                 ["screenshot", tmp_path / "nope", "-o", tmp_path / "x.svg"]):
        out = run_cli(*args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1 and "nope" in out.stderr


def test_help_names_every_command():
    out = run_cli("--help")
    assert out.returncode == 0
    for word in ("demo", "check", "export", "screenshot", "--poll", "--listen", "--no-gpu"):
        assert word in out.stdout


def test_export_csv_covers_every_format(demo_tree, tmp_path):
    out_file = tmp_path / "all.csv"
    out = run_cli("export", demo_tree, "-o", out_file)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(out_file.open()))
    assert set(rows[0]) == {"run", "tag", "step", "wall_time", "value"}
    runs = {r["run"] for r in rows}
    assert {"tb/resnet-baseline", "lightning/version_0", "keras", "jsonl/run-a",
            "hf-trainer", "demo/mlp-sweep-3", "mlflow-db/demo-sqlite/cnn-sweep-1"} <= runs
    tb_loss = [r for r in rows if r["run"] == "tb/resnet-baseline" and r["tag"] == "train/loss"]
    assert [int(r["step"]) for r in tb_loss] == list(range(121))
    from mlmon_tui.app import demo_sim

    p = next(p for p in demo_sim.PROFILES if p.name == "tb/resnet-baseline")
    assert float(tb_loss[7]["value"]) == pytest.approx(demo_sim.train_loss_at(p, 7), rel=1e-6)


def test_export_jsonl_matches_csv(demo_tree, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.jsonl"
    assert run_cli("export", demo_tree, "-o", a).returncode == 0
    assert run_cli("export", demo_tree, "--format", "jsonl", "-o", b).returncode == 0
    rows = list(csv.DictReader(a.open()))
    lines = [json.loads(x) for x in b.read_text().splitlines()]
    assert len(rows) == len(lines)
    assert [(r["run"], r["tag"], int(r["step"])) for r in rows] == \
        [(x["run"], x["tag"], x["step"]) for x in lines]


def test_screenshot_renders_the_loaded_data(demo_tree, tmp_path):
    svg = tmp_path / "shot.svg"
    out = run_cli("screenshot", demo_tree, "-o", svg, "--size", "120x40")
    assert out.returncode == 0, out.stderr
    text = svg.read_text()
    assert text.startswith("<svg") and "resnet" in text and "train/" in text
    out = run_cli("screenshot", demo_tree, "-o", svg, "--size", "5x2")
    assert out.returncode == 2 and "size" in out.stderr


def test_listen_address_is_checked_before_the_screen_opens(tmp_path):
    out = run_cli(tmp_path, "--listen", "tcp:0.0.0.0:9999")
    assert out.returncode == 2 and "--allow-remote" in out.stderr
    out = run_cli(tmp_path, "--listen", "bogus")
    assert out.returncode == 2 and "--listen" in out.stderr
