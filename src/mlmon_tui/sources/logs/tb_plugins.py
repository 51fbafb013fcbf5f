"""TensorBoard plugin summaries that carry run metadata rather than points.

The hparams plugin (what torch's `SummaryWriter.add_hparams`, Lightning's and Keras'
TensorBoard loggers write): a summary value whose metadata has plugin_data{plugin_name
"hparams", content = HParamsPluginData}. Its `session_start_info.hparams` map gives the run's
hyper-parameters (google.protobuf.Value: numbers stay numbers), its `experiment.metric_infos`
(and `hparam_infos`) the names of the metrics and hyper-parameters the experiment compares.

`add_hparams` writes into a sub-folder named by `time.time()` (`run/1796017127.0106878/`):
`hparams_child` gives such a folder's files to the parent run; the one point per metric it
also writes there (`hp_metric` or the metric_dict given) is dropped, as it would be a
one-point chart that repeats the run's own last value (and could share its tag).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from mlmon_tui.sources.logs.tb_decode import fields, plugin_data

META_PLUGINS = frozenset({"hparams"})  # plugins whose summaries become Update.meta
_F64 = struct.Struct("<d").unpack_from
_TIMESTAMP_DIR = re.compile(r"^\d{9,11}\.\d+$")  # str(time.time())
MAX_LIST = 64


def plugin_contents(summary: bytes):
    """(tag, plugin name, content bytes) of each summary value that has plugin metadata."""
    for f, w, value in fields(summary):
        if f != 1 or w != 2:
            continue
        tag, plugin, content = b"", "", b""
        for g, gw, v in fields(value):
            if g == 1 and gw == 2:
                tag = v
            elif g == 9 and gw == 2:
                plugin, content = plugin_data(v)
        if plugin:
            yield tag, plugin, content


def read_meta(summary: bytes, meta: dict) -> None:
    """Merge what the metadata-carrying plugin values of `summary` say into `meta`."""
    for _, plugin, content in plugin_contents(summary):
        if plugin == "hparams":
            hparams(content, meta)


def hparams(content: bytes, meta: dict) -> None:
    """HParamsPluginData -> meta["hparams"] (name -> value) and meta["metrics"] (names)."""
    for f, w, v in fields(content):
        if f == 3 and w == 2:  # session_start_info
            for g, gw, gv in fields(v):
                if g == 1 and gw == 2:  # map<string, Value> entry
                    key, value = "", None
                    for h, hw, hv in fields(gv):
                        if h == 1 and hw == 2:
                            key = hv.decode("utf-8", "replace")
                        elif h == 2 and hw == 2:
                            value = pb_value(hv)
                    if key:
                        meta.setdefault("hparams", {})[key] = value
        elif f == 2 and w == 2:  # experiment
            for g, gw, gv in fields(v):
                if g == 5 and gw == 2:  # metric_infos
                    name = _metric_name(gv)
                    if name and name not in meta.setdefault("metrics", []):
                        meta["metrics"].append(name)
                elif g == 4 and gw == 2:  # hparam_infos: names even without a session
                    for h, hw, hv in fields(gv):
                        if h == 1 and hw == 2:
                            meta.setdefault("hparams", {}).setdefault(
                                hv.decode("utf-8", "replace"), None)


def _metric_name(info: bytes) -> str:
    group = tag = ""
    for f, w, v in fields(info):
        if f == 1 and w == 2:  # MetricName
            for g, gw, gv in fields(v):
                if g == 1 and gw == 2:
                    group = gv.decode("utf-8", "replace")
                elif g == 2 and gw == 2:
                    tag = gv.decode("utf-8", "replace")
    return f"{group}/{tag}" if group and tag else tag


def pb_value(b: bytes):
    """google.protobuf.Value -> None, float (an integral one as int), str, bool or list."""
    for f, w, v in fields(b):
        if f == 2 and w == 1:
            x = _F64(v)[0]
            return int(x) if x.is_integer() and abs(x) < 2**53 else x
        if f == 3 and w == 2:
            return v.decode("utf-8", "replace")
        if f == 4 and w == 0:
            return bool(v)
        if f == 6 and w == 2:  # ListValue
            return [pb_value(x) for g, gw, x in fields(v) if g == 1 and gw == 2][:MAX_LIST]
        if f == 5 and w == 2:
            return "{...}"
    return None


def merge_meta(into: dict, new: dict) -> dict:
    """Merge `new` into `into` (a named hyper-parameter never loses its value to a bare
    name); returns copies of `into`'s entries to hand out."""
    for key, value in new.items():
        if key == "hparams":
            hp = into.setdefault("hparams", {})
            for k, v in value.items():
                if v is not None or k not in hp:
                    hp[k] = v
        elif key == "metrics":
            into.setdefault("metrics", [])
            into["metrics"] += [m for m in value if m not in into["metrics"]]
        else:
            into[key] = value
    return {k: (v.copy() if isinstance(v, (dict, list)) else v) for k, v in into.items()}


def hparams_child(path: Path, run: str) -> tuple[str, bool]:
    """(run the file belongs to, whether its points are dropped): a file in a `time.time()`
    sub-folder beside its parent's own event files belongs to the parent."""
    folder = Path(path).parent
    if run in (".", "") or not _TIMESTAMP_DIR.match(folder.name):
        return run, False
    try:
        if not any("tfevents" in p.name for p in folder.parent.iterdir() if p.is_file()):
            return run, False
    except OSError:
        return run, False
    parent = run.rsplit("/", 1)[0] if "/" in run else "."
    return parent, True
