"""One harness applied to every model family (in the spirit of keras-hub's test_case.py).

Each check builds nothing itself: it takes a built `ECGClassifier` and verifies one part of
the contract (shape, config round trip, `.keras` save/load, one training step, float
TFLite conversion with builtin operators and LiteRT parity). Conversion goes through the
export's own route (`keras_ecgpe.export.tflite.convert_model`), so a family that converts
here converts in `ecgpe-keras export`.
"""

from __future__ import annotations

import json

import keras
import numpy as np

from keras_ecgpe.export.tflite import check_ops, convert_model
from keras_ecgpe.inference.tflite_runner import TFLiteRunner, flatbuffer_ops
from keras_ecgpe.models import ECGClassifier


def toy_batch(model, batch=8, seed=0):
    """Random windows and multi-hot labels that depend on the signal (learnable).

    Label c is on when lead c's mean is positive, so a gradient step has signal to follow.
    """
    rng = np.random.default_rng(seed)
    _, time, leads = model.input_shape
    x = rng.normal(size=(batch, time, leads)).astype("float32")
    x += rng.choice([-0.5, 0.5], size=(batch, 1, leads)).astype("float32")
    classes = model.output_shape[-1]
    y = (x[:, :, :classes].mean(axis=1) > 0).astype("float32")
    return x, y


def check_output_shape(model, batch=3):
    x, _ = toy_batch(model, batch)
    logits = model(x, training=False)
    assert tuple(logits.shape) == (batch, model.num_classes)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))
    features = model.backbone(x, training=False)
    assert tuple(features.shape) == (batch, model.backbone.output_shape[-1])
    assert model.get_layer("head").units == model.num_classes


def check_config_round_trip(model):
    """JSON-serialised config rebuilds the same graph; with copied weights, same outputs."""
    text = json.dumps(keras.saving.serialize_keras_object(model))
    rebuilt = keras.saving.deserialize_keras_object(json.loads(text))
    assert type(rebuilt) is ECGClassifier
    assert type(rebuilt.backbone) is type(model.backbone)
    assert rebuilt.get_config() == model.get_config()
    assert [layer.name for layer in rebuilt.backbone.layers] == [
        layer.name for layer in model.backbone.layers
    ]
    rebuilt.set_weights(model.get_weights())
    x, _ = toy_batch(model, 2)
    np.testing.assert_allclose(
        rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


def check_save_load(model, directory):
    """`.keras` save then load in safe mode gives identical outputs and a usable backbone."""
    path = directory / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is ECGClassifier
    x, _ = toy_batch(model, 2)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(
        loaded.backbone.predict(x, verbose=0), model.backbone.predict(x, verbose=0)
    )


def check_training_step(model):
    """One Adam step on a toy batch lowers the loss on that batch (training mode both times).

    Callers pass dropout-free builds so the two forward passes differ only by the update.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    x, y = toy_batch(model, 8, seed=1)
    before = float(model.train_on_batch(x, y))  # loss of the forward pass before the update
    after = float(model.train_on_batch(x, y))
    assert np.isfinite(before) and after < before - 1e-5, (before, after)


def ops_without_export_view(model) -> set:
    """Operators of `model` converted as built, bypassing its export view.

    A plain functional wrapper is not an `ECGClassifier`, so `convert_model` converts it as
    it is: this shows what the export view is there to avoid (a recurrent WHILE loop).
    """
    inputs = keras.Input(model.input_shape[1:])
    wrapper = keras.Model(inputs, model(inputs, training=False))
    return set(flatbuffer_ops(convert_model(wrapper, "none", window=model.input_shape[1])))


def check_tflite_parity(model, atol=1e-4) -> set:
    """Float export (`convert_model`, mode "none") has builtins only, no WHILE loop, a
    `[1, time, leads]` input, and LiteRT matches Keras on 3 windows.

    Returns the operator names of the converted model.
    """
    _, time, leads = model.input_shape
    runner = TFLiteRunner(convert_model(model, "none", window=time))
    check_ops(runner.ops, target="micro")  # raises on Flex/custom operators and WHILE
    assert (runner.window, runner.num_leads) == (time, leads)
    x, _ = toy_batch(model, 3, seed=2)
    np.testing.assert_allclose(runner.logits(x), model.predict(x, verbose=0), atol=atol)
    return set(runner.ops)
