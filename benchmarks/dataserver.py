"""TensorBoard's Rust data server (`tensorboard-data-server`, the binary TensorBoard itself
starts) as a benchmark peer: started on a log dir with every scalar kept, driven over its
gRPC API (`ListScalars` until every series reached its last step, then `ReadScalars` to
count the points). CPU seconds and peak memory are the server process's own."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path


def binary() -> str | None:
    try:
        import grpc  # noqa: F401
        import tensorboard_data_server
        from tensorboard.data.proto import data_provider_pb2  # noqa: F401
    except ImportError:
        return None
    return tensorboard_data_server.server_binary()


def load(logdir: Path, last_step: int, series: int, timeout: float = 600.0) -> dict:
    """Start the server on `logdir` and wait until `series` (run, tag) series all reached
    `last_step`; returns wall and CPU seconds, peak RSS and the points it serves."""
    import grpc
    import psutil
    from tensorboard.data.proto import data_provider_pb2 as pb
    from tensorboard.data.proto import data_provider_pb2_grpc as rpc

    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [binary(), "--logdir", str(logdir), "--port", "0", "--port-file", str(port_file),
             "--reload", "once", "--samples-per-plugin", "scalars=all", "--checksum",
             "--die-after-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        ps = psutil.Process(proc.pid)
        try:
            while not port_file.exists() or not port_file.read_text().endswith("\n"):
                time.sleep(0.005)
            stub = rpc.TensorBoardDataProviderStub(
                grpc.insecure_channel(f"localhost:{port_file.read_text().strip()}",
                                      options=[("grpc.max_receive_message_length", -1)]))
            flt = pb.PluginFilter(plugin_name="scalars")
            rss = 0
            while time.perf_counter() - t0 < timeout:
                rss = max(rss, ps.memory_info().rss)
                resp = stub.ListScalars(pb.ListScalarsRequest(experiment_id="", plugin_filter=flt))
                done = sum(t.metadata.max_step == last_step for r in resp.runs for t in r.tags)
                if done >= series:
                    break
                time.sleep(0.02)
            wall = time.perf_counter() - t0
            cpu = sum(ps.cpu_times()[:2])
            rss = max(rss, ps.memory_info().rss)
            resp = stub.ReadScalars(pb.ReadScalarsRequest(
                experiment_id="", plugin_filter=flt, downsample=pb.Downsample(num_points=1 << 40)))
            points = sum(len(t.data.step) for r in resp.runs for t in r.tags)
        finally:
            proc.kill()
            proc.wait()
    return {"wall": wall, "cpu": cpu, "rss": rss, "points": points}
