"""Twin checks run in a CHILD process by `test_qat.py` (they import tf_keras, which the
test process must never do): `python tests/qat_probe.py` prints one JSON object.

For each tiny zoo build and twin layout, the Keras 3 model gets random BatchNorm
statistics and affine terms (so a twin that drops an epsilon, a moving statistic or a
layer cannot match by accident); the report gives the largest output difference on a
random batch, whether layer names and weights line up one to one, and whether weights
copied back from a changed twin reach the Keras 3 model unchanged.
"""

from __future__ import annotations

import json
import sys

import keras
import numpy as np

from fixtures import TINY
from keras_ecgpe.export.qat.twin import (
    TwinError,
    build_twin,
    copy_weights_by_name,
    keras_layers_by_name,
)
from keras_ecgpe.models import build_model

# Every family with a twin: basic and bottleneck blocks, VGG with and without BatchNorm.
CASES = (
    "resnet1d18",
    "resnet1d50",
    "xresnet1d18",
    "xresnet1d50",
    "vgg11",
    "vgg11_bn",
    "alexnet1d",
    "inception1d",
)


def _randomise_batch_norm(model, rng) -> None:
    for variable in model.weights:
        leaf = variable.path.rsplit("/", 1)[-1]
        if leaf in ("gamma", "moving_variance"):
            variable.assign(rng.uniform(0.5, 2.0, variable.shape).astype("float32"))
        elif leaf in ("beta", "moving_mean"):
            variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))


def check(name: str, layout: str, rng) -> dict:
    # A dropout layer in the graph, as in trained models: the twin must carry it too.
    model = build_model(name, input_len=256, num_classes=2, **{**TINY[name], "dropout": 0.1})
    _randomise_batch_norm(model, rng)
    twin = build_twin(model, layout=layout)
    x = rng.normal(size=(4, 256, 12)).astype("float32")
    reference = keras.ops.convert_to_numpy(model(x, training=False))
    twin_out = twin(x, training=False).numpy()
    keras_weighted = {n for n, layer in keras_layers_by_name(model).items() if layer.weights}
    twin_weighted = {layer.name for layer in twin.layers if layer.weights}
    same_numbers = all(
        np.array_equal(a.ravel(), b.ravel())
        for a, b in zip(model.get_weights(), twin.get_weights())
    )
    # Back again (pruning's way): perturb the twin, copy into the Keras 3 model.
    twin.set_weights([w * np.float32(0.5) for w in twin.get_weights()])
    copy_weights_by_name(twin, model)
    back = all(
        np.array_equal(a.ravel(), b.ravel())
        for a, b in zip(model.get_weights(), twin.get_weights())
    )
    return {
        "max_abs_diff": float(np.abs(reference - twin_out).max()),
        "output_scale": float(np.abs(reference).max()),
        "same_weighted_layers": keras_weighted == twin_weighted,
        "weights_in_same_order": same_numbers
        and len(model.get_weights()) == len(twin.get_weights()),
        "copied_back_exactly": bool(back),
    }


def main() -> int:
    rng = np.random.default_rng(0)
    results = {}
    for name in CASES:
        for layout in ("1d", "2d"):
            results[f"{name}/{layout}"] = check(name, layout, rng)
    try:  # families without a twin are refused by name
        build_twin(build_model("crnn_gru", input_len=256, num_classes=1, **TINY["crnn_gru"]))
        results["crnn_gru refused"] = False
    except TwinError as exc:
        results["crnn_gru refused"] = str(exc)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
