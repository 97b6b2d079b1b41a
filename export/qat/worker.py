"""Child-process entry of QAT and pruning: `python -m keras_ecgpe.export.qat.worker PARAMS`.

tensorflow-model-optimization flips the whole process to legacy Keras on import
(docs/background.md, "Keras 3, tfmot and tf_keras"), so it runs here and never in the CLI
or test process. The parent
(`keras_ecgpe.export.qat.run_worker`) writes PARAMS, a JSON file:

    {"task": "qat" | "prune", "model": ".keras path", "contract": "contract.json path",
     "cache": "prepared cache dir", "out": ".tflite to write", "facts": ".json to write",
     "mode": "int8" (qat) or any export mode (prune), "int8_io": false,
     "epochs": 2, "learning_rate": 1e-4, "batch_size": 32, "seed": 0,
     "loss": {"name": "bce" | "focal", "alpha": .., "gamma": .., "pos_weight": ..},
     "sparsity": 0.5 (prune), "calibration_samples": 300,
     "representative": ".npy calibration windows (optional: else drawn here)"}

and reads back the flatbuffer and the facts (what `model.json` records under "qat" or
"pruning"), both written atomically. Errors the package raises on purpose are printed as
one line starting with `ERROR: ` and exit with status 2; a converter crash kills only
this process.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

TASKS = ("qat", "prune")
REQUIRED = ("task", "model", "contract", "cache", "out", "facts", "epochs", "learning_rate", "loss")


def run(params: dict) -> None:
    """Does one task as `params` describe (see the module docstring)."""
    import keras
    import numpy as np

    from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
    from keras_ecgpe.errors import ConfigError
    from keras_ecgpe.export.representative import calibration_windows, open_run_cache
    from keras_ecgpe.export.tflite import CALIBRATED, convert_model
    from keras_ecgpe.inference import contract_io
    from keras_ecgpe.run_directory import load_model
    from keras_ecgpe.training.losses import make_loss

    task = params.get("task")
    if task not in TASKS:
        raise ConfigError(f"task must be one of {TASKS}. Received: {task!r}")
    keras.utils.set_random_seed(int(params.get("seed", 0)))
    model = load_model(params["model"], compile=True)
    contract = contract_io.load_contract(params["contract"])
    cache = open_run_cache(contract, params["cache"])
    spec = params["loss"]
    loss = make_loss(
        spec["name"],
        alpha=spec.get("alpha", 0.7),
        gamma=spec.get("gamma", 2.0),
        pos_weight=spec.get("pos_weight"),
    )
    mode, window = params.get("mode", "int8"), contract_io.window(contract)
    representative = None
    if params.get("representative"):  # the parent's own calibration windows
        representative = np.load(params["representative"], allow_pickle=False)
    elif task == "qat" or mode in CALIBRATED:
        representative = calibration_windows(
            cache, contract, int(params.get("calibration_samples", 300))
        )

    # tfmot (and tf_keras) are imported here, after the Keras 3 model is loaded.
    from keras_ecgpe.export.qat.finetune import TrainingWindows

    data = TrainingWindows(
        cache,
        contract,
        batch_size=int(params.get("batch_size", 32)),
        seed=int(params.get("seed", 0)),
    )
    tune = dict(epochs=int(params["epochs"]), learning_rate=float(params["learning_rate"]))
    if task == "qat":
        from keras_ecgpe.export.qat.qat import qat_export

        blob, facts = qat_export(
            model,
            data,
            loss,
            representative=representative,
            int8_io=bool(params.get("int8_io")),
            window=window,
            **tune,
        )
    else:
        from keras_ecgpe.export.qat.prune import prune_in_place

        facts = prune_in_place(model, data, loss, sparsity=float(params["sparsity"]), **tune)
        blob = convert_model(
            model,
            mode,
            window=window,
            representative=representative,
            int8_io=bool(params.get("int8_io")),
        )
    facts["loss"] = spec
    atomic_write_bytes(params["out"], blob)
    atomic_write_json(params["facts"], facts)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m keras_ecgpe.export.qat.worker PARAMS.json", file=sys.stderr)
        return 2
    from keras_ecgpe.export.child_process import ERROR_PREFIX, report_errors

    try:
        with open(argv[0], encoding="utf-8") as handle:
            params = json.load(handle)
        missing = [key for key in REQUIRED if key not in params]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
    except (OSError, ValueError) as exc:
        print(f"{ERROR_PREFIX}bad worker parameters {argv[0]}: {exc}", file=sys.stderr)
        return 2
    return report_errors(lambda: run(params))


if __name__ == "__main__":
    sys.exit(main())
