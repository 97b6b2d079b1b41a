"""Runs an exported `.tflite` in LiteRT and reads the contract embedded in it.

The exported model has one signature, input `ecg` `[1, T, 12]` and output `logits`
`[1, C]`, float32 or (for microcontrollers) int8 with a scale and zero point. The runner
hides that difference: it takes float32 mV windows and returns float32 logits. The
contract travels inside the flatbuffer as a `metadata` entry named `keras_ecgpe_contract`
whose buffer holds UTF-8 JSON; reading it needs neither TensorFlow nor the interpreter.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np

from keras_ecgpe.errors import ConfigError

METADATA_NAME = "keras_ecgpe_contract"
INPUT_NAME = "ecg"
OUTPUT_NAME = "logits"


def read_embedded_json(blob: bytes, name: str = METADATA_NAME) -> Optional[dict]:
    """Returns the JSON metadata entry `name` of a TFLite flatbuffer, or None if absent.

    Raises:
        ConfigError: the bytes are not a TFLite model, or the entry is not valid JSON.

    Example:
    >>> read_embedded_json(open("model.tflite", "rb").read())["input"]["fs"]  # doctest: +SKIP
    100.0
    """
    from ai_edge_litert import schema_py_generated as schema

    blob = bytes(blob)
    if len(blob) < 8 or blob[4:8] != b"TFL3":
        raise ConfigError("not a TFLite flatbuffer (file identifier TFL3 missing)")
    model = schema.Model.GetRootAs(blob, 0)
    for k in range(model.MetadataLength()):
        entry = model.Metadata(k)
        if entry.Name() is None or entry.Name().decode("utf-8") != name:
            continue
        buffer = model.Buffers(entry.Buffer())
        if buffer.Offset() > 1:  # data stored after the flatbuffer (models above 2 GB)
            raw = blob[buffer.Offset():buffer.Offset() + buffer.Size()]
        else:
            raw = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise ConfigError(f"metadata entry {name!r} is not UTF-8 JSON ({exc})") from None
    return None


def flatbuffer_ops(blob: bytes) -> list:
    """Sorted operator names used by a TFLite flatbuffer, read from the file itself.

    Builtin operators by their schema name (`CONV_2D`, `WHILE`, ...), custom ones by their
    custom code (Flex operators are custom codes starting with `Flex`). Unlike the
    interpreter's op list, this does not change once a delegate (XNNPACK) takes nodes over.
    """
    from ai_edge_litert import schema_py_generated as schema

    names = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    model = schema.Model.GetRootAs(bytes(blob), 0)
    codes = []
    for k in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(k)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = code.CustomCode()
        codes.append(custom.decode("utf-8") if custom else names.get(builtin, str(builtin)))
    used = set()
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        used.update(codes[graph.Operators(k).OpcodeIndex()]
                    for k in range(graph.OperatorsLength()))
    return sorted(used)


class TFLiteRunner:
    """Float32 windows in, float32 logits out, through a LiteRT interpreter.

    Args:
        model: path to a `.tflite` file, or its bytes.
        num_threads: interpreter threads.

    Raises:
        ConfigError: unreadable file, or a model without the `ecg` -> `logits` signature.

    Example:
    >>> runner = TFLiteRunner("export/float32/model.tflite")  # doctest: +SKIP
    >>> runner.logits(np.zeros((3, runner.window, 12), np.float32)).shape  # doctest: +SKIP
    (3, 1)
    """

    def __init__(self, model, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(model, (bytes, bytearray)):
            self.blob, where = bytes(model), "model bytes"
        else:
            where = os.fspath(model)
            try:
                with open(where, "rb") as handle:
                    self.blob = handle.read()
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read the model ({exc.strerror})") from None
        try:
            self.interpreter = Interpreter(model_content=self.blob, num_threads=num_threads)
            self.runner = self.interpreter.get_signature_runner()
        except ValueError as exc:
            raise ConfigError(f"{where}: not a usable TFLite model ({exc})") from None
        inputs, outputs = self.runner.get_input_details(), self.runner.get_output_details()
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ConfigError(f"{where}: signature must map input {INPUT_NAME!r} to output "
                              f"{OUTPUT_NAME!r}; found {list(inputs)} -> {list(outputs)}")
        self.input, self.output = inputs[INPUT_NAME], outputs[OUTPUT_NAME]
        shape = [int(n) for n in self.input["shape"]]
        if len(shape) != 3 or shape[0] != 1:
            raise ConfigError(f"{where}: input must be [1, time, leads]; found {shape}")
        self.window, self.num_leads = shape[1], shape[2]
        self.num_classes = int(self.output["shape"][-1])

    @property
    def ops(self) -> list:
        """Sorted names of the operators in the model (see `flatbuffer_ops`)."""
        return flatbuffer_ops(self.blob)

    @staticmethod
    def _quantization(detail) -> Optional[tuple]:
        scale, zero = detail["quantization"]
        return (float(scale), int(zero)) if np.dtype(detail["dtype"]) != np.float32 else None

    @property
    def input_quantization(self) -> Optional[tuple]:
        """`(scale, zero_point)` of an integer input, None for float input."""
        return self._quantization(self.input)

    @property
    def output_quantization(self) -> Optional[tuple]:
        return self._quantization(self.output)

    def logits(self, windows) -> np.ndarray:
        """Runs `(n, T, leads)` float32 windows one by one; returns `(n, C)` float32 logits."""
        x = np.asarray(windows, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.window, self.num_leads):
            raise ConfigError(f"windows must be (n, {self.window}, {self.num_leads}). "
                              f"Received shape {x.shape}")
        dtype = np.dtype(self.input["dtype"])
        out = np.empty((x.shape[0], self.num_classes), np.float32)
        for k in range(x.shape[0]):
            window = x[k:k + 1]
            if self.input_quantization:
                scale, zero = self.input_quantization
                info = np.iinfo(dtype)
                window = np.clip(np.round(window / scale) + zero, info.min, info.max)
            result = self.runner(**{INPUT_NAME: window.astype(dtype)})[OUTPUT_NAME]
            if self.output_quantization:
                scale, zero = self.output_quantization
                result = (result.astype(np.float32) - zero) * scale
            out[k] = result[0]
        return out

    def metadata(self) -> Optional[dict]:
        """The embedded contract (see `read_embedded_json`), None when there is none."""
        return read_embedded_json(self.blob)
