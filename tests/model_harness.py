"""One harness applied to every model family (in the spirit of keras-hub's test_case.py).

Each check builds nothing itself: it takes a built `ECGClassifier` and verifies one part of
the contract (shape, config round trip, `.keras` save/load, one training step, float
TFLite conversion with builtin operators and LiteRT parity).
"""

from __future__ import annotations

import json

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_ecgpe.models import ECGClassifier, export_view


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
        layer.name for layer in model.backbone.layers]
    rebuilt.set_weights(model.get_weights())
    x, _ = toy_batch(model, 2)
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


def check_save_load(model, directory):
    """`.keras` save then load in safe mode gives identical outputs and a usable backbone."""
    path = directory / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is ECGClassifier
    x, _ = toy_batch(model, 2)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.backbone.predict(x, verbose=0),
                                  model.backbone.predict(x, verbose=0))


def check_training_step(model):
    """One Adam step on a toy batch lowers the loss on that batch (training mode both times).

    Callers pass dropout-free builds so the two forward passes differ only by the update.
    """
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    x, y = toy_batch(model, 8, seed=1)
    before = float(model.train_on_batch(x, y))  # loss of the forward pass before the update
    after = float(model.train_on_batch(x, y))
    assert np.isfinite(before) and after < before - 1e-5, (before, after)


def convert_to_tflite(model):
    """Float TFLite flatbuffer, builtin operators only, static `[1, time, leads]` input."""
    shape = [1, *model.input_shape[1:]]
    function = tf.function(lambda x: model(x, training=False),
                           input_signature=[tf.TensorSpec(shape, tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def tflite_ops(blob):
    interpreter = Interpreter(model_content=blob)
    return {detail["op_name"] for detail in interpreter._get_ops_details()}


def check_tflite_parity(model, atol=1e-4):
    """The export view converts with builtins only and LiteRT matches Keras on 3 windows.

    Returns the operator names of the converted model.
    """
    view = export_view(model)
    blob = convert_to_tflite(view)
    interpreter = Interpreter(model_content=blob)
    interpreter.allocate_tensors()
    ops = {detail["op_name"] for detail in interpreter._get_ops_details()}
    assert "WHILE" not in ops and not any(op.startswith("Flex") for op in ops), ops
    source = interpreter.get_input_details()[0]
    assert list(source["shape"]) == [1, *model.input_shape[1:]]
    sink = interpreter.get_output_details()[0]["index"]
    x, _ = toy_batch(model, 3, seed=2)
    expected = model.predict(x, verbose=0)
    for window, reference in zip(x, expected):
        interpreter.set_tensor(source["index"], window[None])
        interpreter.invoke()
        np.testing.assert_allclose(interpreter.get_tensor(sink)[0], reference, atol=atol)
    return ops
