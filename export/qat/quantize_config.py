"""Where the fake-quantisers go in a quantisation twin, for the layers tfmot leaves out.

The twin given to QAT is the "2d" one (`twin.build_twin(layout="2d")`): its Conv2D,
pooling, Dense, Add, Concatenate and Activation layers are all in tfmot's default 8-bit
registry, and its Conv2D -> BatchNorm (-> ReLU) chains get tfmot's own fusing transforms
(no fake-quantiser between tensors the converter fuses, per-channel int8 kernels).

Left out by the registry: a BatchNorm that does not follow a convolution (Inception1D
normalises the concatenation of its branches). TFLite runs it as an int8 MUL + ADD, so
its output is quantised, unless a ReLU follows, which the ADD absorbs (then the ReLU's
quantiser is the one that counts), the rule tfmot applies to Conv2D -> BatchNorm -> ReLU.
Import only in the QAT child process: it imports tfmot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf
import tensorflow_model_optimization as tfmot

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    import tf_keras

_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2D")


class OutputQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Quantises a layer's output only (8 bits, asymmetric, per tensor), or nothing.

    Args:
        quantize_output: put a fake-quantiser on the output.

    Example:
    >>> import tf_keras
    >>> bn = tf_keras.layers.BatchNormalization(name="bn")
    >>> annotated = tfmot.quantization.keras.quantize_annotate_layer(
    ...     bn, OutputQuantizeConfig(False))
    >>> type(annotated).__name__, annotated.quantize_config.quantize_output
    ('QuantizeAnnotate', False)
    """

    def __init__(self, quantize_output: bool = True):
        self.quantize_output = bool(quantize_output)

    def get_weights_and_quantizers(
        self, layer: tf_keras.layers.Layer
    ) -> list[tuple[tf.Variable, tfmot.quantization.keras.quantizers.Quantizer]]:
        return []  # BatchNorm's scale and offset become the int8 MUL/ADD constants

    def get_activations_and_quantizers(
        self, layer: tf_keras.layers.Layer
    ) -> list[tuple[Callable, tfmot.quantization.keras.quantizers.Quantizer]]:
        return []

    def set_quantize_weights(
        self, layer: tf_keras.layers.Layer, quantize_weights: Sequence[tf.Tensor]
    ) -> None:
        pass

    def set_quantize_activations(
        self, layer: tf_keras.layers.Layer, quantize_activations: Sequence[Callable]
    ) -> None:
        pass

    def get_output_quantizers(
        self, layer: tf_keras.layers.Layer
    ) -> list[tfmot.quantization.keras.quantizers.Quantizer]:
        if not self.quantize_output:
            return []
        return [
            tfmot.quantization.keras.quantizers.MovingAverageQuantizer(
                num_bits=8, per_axis=False, symmetric=False, narrow_range=False
            )
        ]

    def get_config(self) -> dict[str, Any]:
        return {"quantize_output": self.quantize_output}


CUSTOM_OBJECTS = {"OutputQuantizeConfig": OutputQuantizeConfig}


def _is_relu(layer) -> bool:
    return (
        type(layer).__name__ == "ReLU"
        or type(layer).__name__ == "Activation"
        and getattr(layer.activation, "__name__", "") == "relu"
    )


def quantize_config_for(
    layer: tf_keras.layers.Layer,
) -> tfmot.quantization.keras.QuantizeConfig | None:
    """The config of one layer of a 2-D twin, or None where tfmot's registry decides.

    Producers and consumers are read from the twin's functional graph.
    """
    if type(layer).__name__ != "BatchNormalization":
        return None
    producers = [
        type(parent).__name__
        for node in layer.inbound_nodes
        for parent in tf.nest.flatten(node.inbound_layers)
    ]
    if producers and all(kind in _CONVOLUTIONS for kind in producers):
        return None  # tfmot's Conv2D + BatchNorm transforms place the quantisers
    consumers = [node.outbound_layer for node in layer.outbound_nodes]
    fused = bool(consumers) and all(_is_relu(layer) for layer in consumers)
    return OutputQuantizeConfig(quantize_output=not fused)
