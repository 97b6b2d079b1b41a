"""ResNet-1D-18 on 12 x 2048 windows: training samples/s (batch 64) and batch-1 latency.

Each lever runs in its own process, because oneDNN and threading are fixed when
TensorFlow starts and the mixed-precision policy is global:

    baseline     Keras 3 defaults (float32, oneDNN on, TF's own thread pools)
    no_onednn    TF_ENABLE_ONEDNN_OPTS=0
    threads      intra-op threads = cores, inter-op 1 (no oversubscription)
    xla          model.compile(jit_compile=True)
    bf16         mixed_bfloat16 policy (needs AVX512_BF16 or AMX; float32 logits)
    fused_bn     benchmark-only BatchNorm calling TF's fused kernel (FusedBatchNormV3)
    best         threads + bf16 + fused_bn

Data come from memory (one random batch), so the figures measure the model, not the
input pipeline. Run from the repository root:

    python benchmarks/bench_resnet1d_training.py                # every lever
    python benchmarks/bench_resnet1d_training.py --levers baseline,bf16 --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

LEVERS = ("baseline", "no_onednn", "threads", "xla", "bf16", "fused_bn", "best")
_PARTS = {"best": ("threads", "bf16", "fused_bn")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levers", default=",".join(LEVERS))
    parser.add_argument("--model", default="resnet1d18")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--input-len", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=8, help="Timed training steps.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed steps first.")
    parser.add_argument("--latency-calls", type=int, default=50)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help="Also write the results as JSON here.")
    parser.add_argument(
        "--torch-python",
        help="A Python interpreter with torch installed: "
        "also time the PyTorch twin (benchmarks/pytorch_resnet1d18.py) in "
        "this run, as the baseline to beat.",
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    results = []
    if args.torch_python:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_resnet1d18.py")
        done = subprocess.run(
            [
                args.torch_python,
                script,
                f"--batch={args.batch}",
                f"--input-len={args.input_len}",
                f"--steps={args.steps}",
                f"--warmup={args.warmup}",
                f"--threads={os.cpu_count()}",
                f"--latency-calls={args.latency_calls}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        pytorch = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"pytorch    {pytorch['samples_per_s']:7.1f} samples/s  step "
            f"{pytorch['step_s']:.2f} s  latency eager {pytorch['latency_eager_ms']:.1f} ms "
            f"({pytorch['framework']}, {pytorch['parameters']} parameters)",
            flush=True,
        )
    for lever in args.levers.split(","):
        if lever not in LEVERS:
            parser.error(f"unknown lever {lever!r}; choose from {', '.join(LEVERS)}")
        env = dict(os.environ)
        if lever == "no_onednn":
            env["TF_ENABLE_ONEDNN_OPTS"] = "0"
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = [sys.executable, __file__, "--child", lever] + [
            f"--{key.replace('_', '-')}={value}"
            for key, value in vars(args).items()
            if key in ("model", "batch", "input_len", "steps", "warmup", "latency_calls")
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            results.append({"lever": lever, "error": done.stderr.strip().splitlines()[-1]})
        else:
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(_row(results[-1], results[0]), flush=True)
    if args.torch_python:
        for result in results:
            if "samples_per_s" in result:
                result["vs_pytorch"] = round(result["samples_per_s"] / pytorch["samples_per_s"], 2)
        results.insert(0, pytorch)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=2)


def measure(lever: str, args) -> dict:
    """Builds the model under `lever`, then times training steps and batch-1 calls."""
    import keras
    import numpy as np
    import tensorflow as tf

    parts = _PARTS.get(lever, (lever,))
    cores = os.cpu_count() or 1
    if "threads" in parts:
        tf.config.threading.set_intra_op_parallelism_threads(cores)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if "bf16" in parts:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    if "fused_bn" in parts:
        keras.layers.BatchNormalization = _fused_batch_norm_class(keras, tf)

    from keras_ecgpe.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model(args.model, input_len=args.input_len, num_classes=1)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        jit_compile="xla" in parts,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.input_len, 12)).astype("float32")
    y = rng.integers(0, 2, size=(args.batch, 1)).astype("float32")
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    step = statistics.median(times)

    single = x[:1]
    infer = tf.function(lambda t: model(t, training=False), jit_compile="xla" in parts)
    latencies = {"eager": [], "function": []}
    for _ in range(5):
        model(single, training=False)
        infer(single)
    for _ in range(args.latency_calls):
        for kind, call in (
            ("eager", lambda: model(single, training=False)),
            ("function", lambda: infer(single)),
        ):
            start = time.perf_counter()
            np.asarray(call())
            latencies[kind].append(time.perf_counter() - start)
    return {
        "lever": lever,
        "model": args.model,
        "parameters": model.count_params(),
        "batch": args.batch,
        "input_len": args.input_len,
        "cores": cores,
        "step_s": round(step, 4),
        "samples_per_s": round(args.batch / step, 2),
        "latency_eager_ms": round(1e3 * statistics.median(latencies["eager"]), 2),
        "latency_function_ms": round(1e3 * statistics.median(latencies["function"]), 2),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
    }


def _fused_batch_norm_class(keras, tf):
    """A BatchNormalization whose training pass uses TF's fused kernel (benchmark only).

    Keras 3 computes batch moments and the normalisation as separate ops; TensorFlow's
    FusedBatchNormV3 does both (and its gradient) in one oneDNN kernel. Inference and the
    moving-average update keep Keras's own semantics.
    """

    class FusedBatchNormalization(keras.layers.BatchNormalization):
        def call(self, inputs, training=None, mask=None):
            if not (training and self.trainable) or len(inputs.shape) != 3:
                return super().call(inputs, training=training, mask=mask)
            x = tf.cast(inputs, "float32")[:, :, None, :]  # (batch, time, 1, channels)
            y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
                x=x,
                scale=tf.cast(self.gamma, "float32"),
                offset=tf.cast(self.beta, "float32"),
                mean=tf.constant([], "float32"),
                variance=tf.constant([], "float32"),
                epsilon=self.epsilon,
                data_format="NHWC",
                is_training=True,
            )
            # FusedBatchNormV3 returns the unbiased variance; Keras keeps the biased one.
            count = tf.cast(tf.shape(x)[0] * tf.shape(x)[1], "float32")
            variance = variance * (count - 1.0) / count
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
            )
            return tf.cast(y[:, :, 0, :], self.compute_dtype)

    return FusedBatchNormalization


def _row(result: dict, baseline: dict) -> str:
    if "error" in result:
        return f"{result['lever']:<10} failed: {result['error']}"
    ratio = result["samples_per_s"] / baseline.get("samples_per_s", result["samples_per_s"])
    return (
        f"{result['lever']:<10} {result['samples_per_s']:7.1f} samples/s ({ratio:4.2f}x)  "
        f"step {result['step_s']:.2f} s  latency eager {result['latency_eager_ms']:.1f} ms"
        f"  tf.function {result['latency_function_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
