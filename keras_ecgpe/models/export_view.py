"""The build of a model that converts to TFLite with builtin operators only."""

from __future__ import annotations

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models.classifier import ECGClassifier


def export_view(model: ECGClassifier, input_len: int | None = None) -> ECGClassifier:
    """Returns the build of `model` to convert for deployment, with the same weights.

    Keras 3 LSTM/GRU layers convert to a WHILE loop that the int8 calibrator crashes on
    (docs/background.md, "TFLite conversion traps"); backbones with an `unroll` argument
    (the RNN and CRNN families) are
    rebuilt with `unroll=True`, which converts to plain operators because their sequence
    is capped at `max_steps`. Other models are returned as they are, unless `input_len`
    asks for a different window, in which case the model is rebuilt for it (possible when
    no weight depends on the window length; "flatten" attention reductions do).

    Args:
        model: an `ECGClassifier`.
        input_len: window length of the export build; `None` keeps the model's.

    Returns:
        An `ECGClassifier` computing the same function (the same object when nothing
        needs rebuilding). Convert it with a static batch of 1.

    Raises:
        ConfigError: the weights do not fit a build for `input_len`.

    Example:
    >>> from keras_ecgpe.models import build_model
    >>> model = build_model("gru", input_len=256, num_classes=1, width=8, units=8)
    >>> export_view(model).backbone.get_config()["unroll"]
    True
    """
    if not isinstance(model, ECGClassifier):
        raise ConfigError(f"`model` must be an ECGClassifier. Received: model={model!r}")
    config = model.backbone.get_config()
    needs_unroll = config.get("unroll") is False
    new_len = config["input_len"] if input_len is None else input_len
    if not needs_unroll and new_len == config["input_len"]:
        return model
    config["input_len"] = new_len
    if needs_unroll:
        config["unroll"] = True
    backbone = model.backbone.__class__.from_config(config)
    view = ECGClassifier(backbone, model.num_classes, model.dropout, name=model.name)
    try:
        view.set_weights(model.get_weights())
    except ValueError as error:
        raise ConfigError(
            f"The weights of {model.name!r} do not fit a build for another "
            f"window length ({error}). Received: input_len={input_len!r}"
        ) from None
    return view
