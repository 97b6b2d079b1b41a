"""Distributed training on CPU (SYNTHETIC toy data): MirroredStrategy over two logical CPU
devices and MultiWorkerMirroredStrategy over two local worker processes.

Each run happens in a subprocess: logical devices and the multi-worker runtime must be
set before TensorFlow starts, which this test process has long done. The model is a
VGG-11 without BatchNorm or dropout: with it, data-parallel training over 2 replicas of
8 windows is the same computation as one device with 16 (Keras averages the replicas'
gradients), so the runs must agree to float rounding (stated tolerance: 1e-4 on every
validation metric of every epoch). With BatchNorm they would not: each replica
normalises its own 8 windows (the ResNet case is checked for sanity only).
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from fixtures import tiny_overrides, toy_cache
from keras_ecgpe.errors import ConfigError

WORKER = """
import json, sys
import tensorflow as tf
if sys.argv[3] == "two-cpus":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_ecgpe.training import TrainConfig, train_run
config = TrainConfig.from_file(sys.argv[1])
result = train_run(config, sys.argv[2], progress=False)
print("RESULT " + json.dumps({"history": open(result.history).read() if result.history.exists()
                              else None, "val": result.val_metrics, "run_dir": str(result.run_dir),
                              "exists": result.run_dir.exists()}))
"""
NO_BATCHNORM = [
    "model.name=vgg11",
    "model.overrides.fc_layers=0",
    "data.augment=false",
    "loss.name=bce",
    "optimizer.learning_rate=0.003",
    "training.epochs=3",
]


def _result(completed):
    assert completed.returncode == 0, completed.stderr[-4000:]
    line = [x for x in completed.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def _history(text):
    rows = [line.split(",") for line in text.strip().splitlines()]
    return [dict(zip(rows[0], map(float, row))) for row in rows[1:]]


def _assert_same_training(first, second, tol=1e-4):
    a, b = _history(first["history"]), _history(second["history"])
    assert len(a) == len(b) == 3
    for x, y in zip(a, b):
        for key in ("val_macro_auroc", "val_macro_average_precision", "val_loss", "loss"):
            assert x[key] == pytest.approx(y[key], abs=tol), key


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("distribute")
    cache = toy_cache(root / "cache", seed=1, splits={"train": 64, "validation": 32, "test": 8})
    (root / "worker.py").write_text(WORKER)
    base = tiny_overrides() + [f"data.cache={cache.path}"] + NO_BATCHNORM

    def config_file(name, *extra):
        from keras_ecgpe.training import TrainConfig

        path = root / f"{name}.yaml"
        path.write_text(TrainConfig().with_overrides(base + list(extra)).to_yaml())
        return path

    def run(config, out, mode="one-cpu", env=None, timeout=240):
        return subprocess.run(
            [sys.executable, str(root / "worker.py"), str(config), str(out), mode],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            cwd=root,
        )

    single = _result(run(config_file("single", "training.batch_size=16"), root / "single"))
    return root, config_file, run, single


def test_strategy_errors_name_the_problem(monkeypatch):
    from keras_ecgpe.training import TrainConfig
    from keras_ecgpe.training.distribute import make_strategy

    with pytest.raises(ConfigError, match="training.strategy"):
        TrainConfig().with_overrides(["training.strategy=tpu"])
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs the TF_CONFIG"):
        make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        make_strategy("multiworker")
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}
        ),
    )
    with pytest.raises(ConfigError, match="task"):
        make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": "localhost:1"}}))
    with pytest.raises(ConfigError, match="cluster"):
        make_strategy("multiworker")


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_matches_one_device(setup):
    root, config_file, run, single = setup
    mirrored = _result(
        run(
            config_file("mirrored", "training.strategy=mirrored", "training.batch_size=8"),
            root / "mirrored",
            "two-cpus",
        )
    )
    details = json.loads((root / "mirrored" / "run.json").read_text())
    assert details["replicas"] == 2 and details["global_batch"] == 16
    assert (root / "mirrored" / "best.keras").is_file()
    _assert_same_training(mirrored, single)
    assert mirrored["val"]["auroc"] > 0.6  # the toy signal is being learned

    # A BatchNorm network still trains sanely when each replica normalises its own half.
    resnet = _result(
        run(
            config_file(
                "resnet",
                "training.strategy=mirrored",
                "training.batch_size=8",
                "model.name=resnet1d18",
                "model.overrides={width: 8}",
            ),
            root / "resnet",
            "two-cpus",
        )
    )
    assert 0.0 <= resnet["val"]["auroc"] <= 1.0 and (root / "resnet" / "best.keras").is_file()


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_two_local_processes_match_one_device(setup):
    root, config_file, _, single = setup
    config = config_file("multi", "training.strategy=multiworker", "training.batch_size=8")
    cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
    processes = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        }
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(root / "worker.py"),
                    str(config),
                    str(root / "multi"),
                    "one-cpu",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=root,
            )
        )
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            outputs.append(
                subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
            )
    finally:
        for process in processes:  # never leave a worker waiting for its peer
            if process.poll() is None:
                process.kill()
    chief, worker = (_result(o) for o in outputs)
    assert chief["run_dir"] == str(root / "multi") and chief["exists"]
    assert not worker["exists"]  # the non-chief wrote to a temporary folder, now deleted
    details = json.loads((root / "multi" / "run.json").read_text())
    assert details["replicas"] == 2 and details["global_batch"] == 16
    assert (root / "multi" / "best.keras").is_file()
    assert worker["val"] == chief["val"]  # both workers validated the same model
    _assert_same_training(chief, single)
