"""TensorBoard's hparams plugin as torch's SummaryWriter.add_hparams and Lightning's
TensorBoardLogger write it: hyper-parameters and metric names reach the run's metadata,
and add_hparams' timestamp sub-folder is not a run of its own."""

import pytest

from mlmon_tui.sources.logs import tb_plugins
from mlmon_tui.sources.watch.watcher import Watcher
from mlmon_tui.store.store import Store

torch_tb = pytest.importorskip("torch.utils.tensorboard", reason="torch is not installed")


def load(root) -> Store:
    store = Store()
    Watcher([root], store).load_once()
    return store


def test_add_hparams_goes_to_the_parent_run(tmp_path):
    w = torch_tb.SummaryWriter(log_dir=str(tmp_path / "runs" / "lr0.1"))
    for step in range(5):
        w.add_scalar("train/loss", 1.0 / (step + 1), step)
    hp = {"lr": 0.1, "batch_size": 32, "optimizer": "adam", "nesterov": True}
    w.add_hparams(hp, {"hparam/accuracy": 0.91, "train/loss": 0.2})
    w.close()
    subs = [p for p in (tmp_path / "runs" / "lr0.1").iterdir() if p.is_dir()]
    assert len(subs) == 1 and tb_plugins._TIMESTAMP_DIR.match(subs[0].name)  # torch's layout
    store = load(tmp_path)
    assert store.runs() == ["runs/lr0.1"]
    meta = store.run_info("runs/lr0.1").meta
    assert meta["hparams"] == hp
    assert isinstance(meta["hparams"]["lr"], float)
    assert isinstance(meta["hparams"]["batch_size"], int)
    assert sorted(meta["metrics"]) == ["hparam/accuracy", "train/loss"]
    # the sub-folder's one point per metric is dropped: train/loss is the run's own series
    s = store.series("runs/lr0.1", "train/loss")
    assert s.step.tolist() == [0, 1, 2, 3, 4] and s.value[-1] == pytest.approx(0.2)
    assert store.series("runs/lr0.1", "hparam/accuracy") is None


def test_a_timestamp_folder_without_a_parent_run_stays_a_run(tmp_path):
    w = torch_tb.SummaryWriter(log_dir=str(tmp_path / "1796017127.0106878"))
    w.add_scalar("loss", 1.0, 0)
    w.close()
    assert load(tmp_path).runs() == ["1796017127.0106878"]


def test_lightning_tensorboard_logger_hyperparameters(tmp_path):
    loggers = pytest.importorskip("lightning.pytorch.loggers", reason="lightning not installed")
    logger = loggers.TensorBoardLogger(str(tmp_path), name="mnist", version=0)
    logger.log_hyperparams({"lr": 3e-4, "layers": 4, "act": "gelu", "dropout": 0.1},
                           metrics={"val/acc": 0.0})
    logger.log_metrics({"val/acc": 0.5}, step=1)
    logger.finalize("success")
    store = load(tmp_path)
    assert store.runs() == ["mnist/version_0"]
    meta = store.run_info("mnist/version_0").meta
    assert meta["hparams"] == {"lr": 3e-4, "layers": 4, "act": "gelu", "dropout": 0.1}
    assert meta["metrics"] == ["val/acc"]
    assert store.series("mnist/version_0", "val/acc").value.tolist() == [0.0, 0.5]


def test_values_of_every_kind_decode_as_tensorboard_encodes_them():
    from tensorboard.plugins.hparams import plugin_data_pb2

    ssi = plugin_data_pb2.SessionStartInfo()
    ssi.hparams["f"].number_value = 0.25
    ssi.hparams["i"].number_value = 7
    ssi.hparams["s"].string_value = "adam"
    ssi.hparams["b"].bool_value = False
    ssi.hparams["l"].list_value.values.add().number_value = 1.5
    data = plugin_data_pb2.HParamsPluginData(version=0, session_start_info=ssi)
    meta: dict = {}
    tb_plugins.hparams(data.SerializeToString(), meta)
    assert meta["hparams"] == {"f": 0.25, "i": 7, "s": "adam", "b": False, "l": [1.5]}


def test_real_lightning_runs_hparams_match_their_hparams_yaml():
    """Lightning wrote both: the hparams plugin summary in the event file and hparams.yaml."""
    from reallogs import REAL_LOGS

    root = REAL_LOGS / "BioinfoMachineLearning__mintomics" / "lightning_logs"
    if not root.is_dir():
        pytest.skip("real logs absent")
    store = load(root)
    for run in ("version_0", "version_28"):
        yaml = {}
        for line in (root / run / "hparams.yaml").read_text().splitlines():
            k, v = line.split(": ", 1)
            yaml[k] = float(v) if "." in v or "e-" in v else int(v)
        assert store.run_info(run).meta["hparams"] == yaml
        assert store.run_info(run).meta["metrics"] == ["hp_metric"]
