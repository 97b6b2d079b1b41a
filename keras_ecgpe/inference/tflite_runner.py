"""Runs an exported `.tflite` in LiteRT and reads the contract embedded in it.

The exported model has one signature, input `ecg` `[1, T, 12]` and output `logits`
`[1, C]`, float32 or (for microcontrollers) int8 with a scale and zero point. The runner
hides that difference: it takes float32 mV windows and returns float32 logits. The
contract travels inside the flatbuffer as a `metadata` entry named `keras_ecgpe_contract`
whose buffer holds UTF-8 JSON; reading it needs neither TensorFlow nor the interpreter.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import schemas
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from typing import Any

METADATA_NAME = "keras_ecgpe_contract"
INPUT_NAME = "ecg"
OUTPUT_NAME = "logits"
_MAX_METADATA_ENTRIES = 1024  # real models carry a handful
_MAX_METADATA_BYTES = schemas.MAX_BYTES["model_json"]


def read_embedded_json(
    blob: bytes, name: str = METADATA_NAME, *, where: str = "model bytes"
) -> dict[str, Any] | None:
    """Returns the JSON metadata entry `name` of a TFLite flatbuffer, or None if absent.

    The flatbuffer is read defensively: the entry's buffer index and extent are checked,
    and whatever the flatbuffers runtime raises on an offset past the end becomes a
    `ConfigError`, so damaged or hostile bytes never escape as an `IndexError`. The JSON
    is parsed strictly (`keras_ecgpe.schemas.parse_json_bytes`: no NaN, no duplicate key).

    Args:
        blob: the `.tflite` bytes.
        name: the metadata entry.
        where: the file the bytes came from, for messages.

    Raises:
        ConfigError: the bytes are not a TFLite model, the flatbuffer is damaged, or the
            entry is not strict UTF-8 JSON; the message starts with `where`.

    Example:

    ```python
    read_embedded_json(open("model.tflite", "rb").read())["input"]["fs"]
    # 100.0
    ```
    """
    from ai_edge_litert import schema_py_generated as schema

    blob = bytes(blob)
    if len(blob) < 8 or blob[4:8] != b"TFL3":
        raise ConfigError(f"{where}: not a TFLite flatbuffer (file identifier TFL3 missing)")
    try:
        raw = _metadata_bytes(schema.Model.GetRootAs(blob, 0), blob, name)
    except (struct.error, IndexError, ValueError, OverflowError, TypeError) as exc:
        # The flatbuffers runtime has no verifier: an offset past the end surfaces as one
        # of these while following the tables (TypeError: "bad number" for an offset).
        raise ConfigError(
            f"{where}: damaged TFLite flatbuffer ({type(exc).__name__}: {exc})"
        ) from None
    if raw is None:
        return None
    if len(raw) > _MAX_METADATA_BYTES:
        raise ConfigError(
            f"{where}: metadata entry {name!r} holds {len(raw)} bytes, more "
            f"than the {_MAX_METADATA_BYTES} it may have"
        )
    return schemas.parse_json_bytes(
        raw,
        where=f"{where}: metadata entry {name!r}",
        what="model description",
        error_type=ConfigError,
    )


def _metadata_bytes(model, blob: bytes, name: str) -> bytes | None:
    """The bytes of metadata entry `name` (None if absent), every index checked."""
    count, n_buffers = model.MetadataLength(), model.BuffersLength()
    if count > _MAX_METADATA_ENTRIES:
        raise ValueError(f"{count} metadata entries")
    wanted = name.encode("utf-8")
    for k in range(count):
        entry = model.Metadata(k)
        if entry.Name() != wanted:
            continue
        index = entry.Buffer()
        if not 0 <= index < n_buffers:
            raise IndexError(f"metadata {name!r} points to buffer {index} of {n_buffers}")
        buffer = model.Buffers(index)
        if buffer.Offset() > 1:  # data stored after the flatbuffer (models above 2 GB)
            start, size = buffer.Offset(), buffer.Size()
            if start + size > len(blob):
                raise IndexError(f"buffer {index} ends at byte {start + size} of {len(blob)}")
            return blob[start : start + size]
        # DataAsNumpy raises ValueError when the vector runs past the end of the bytes.
        return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
    return None


def load_model_json(path: os.PathLike | str) -> dict:
    """Reads a model description: `model.json`, or the copy embedded in a `.tflite`.

    Either way the document is checked against the `model_json` schema (which includes
    the run's contract) before it is returned.

    Args:
        path: a `model.json` file, or a `.tflite` carrying the `keras_ecgpe_contract` entry.

    Returns:
        The description as a dict (see `keras_ecgpe.export.metadata.build_model_json`).

    Raises:
        ConfigError: unreadable, too large, damaged, no embedded description, or a value
            the schema refuses; the message names the file.

    Example:

    ```python
    load_model_json("export/float32/model.json")["output"]["labels"]
    # ['PE']
    ```
    """
    where = os.fspath(path)
    try:
        if where.endswith(".tflite"):
            with open(where, "rb") as handle:
                document = read_embedded_json(handle.read(), where=where)
            if document is None:
                raise ConfigError(
                    f"{where}: no {METADATA_NAME!r} metadata entry; export the "
                    "model with `ecgpe-keras export`"
                )
        else:
            document = schemas.read_json(
                where,
                max_bytes=schemas.MAX_BYTES["model_json"],
                what="model description",
                error_type=ConfigError,
            )
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the model description ({exc.strerror})") from None
    schemas.validate(document, "model_json", where, error_type=ConfigError)
    return document


def flatbuffer_ops(blob: bytes) -> list:
    """Sorted operator names used by a TFLite flatbuffer, read from the file itself.

    Builtin operators by their schema name (`CONV_2D`, `WHILE`, ...), custom ones by their
    custom code (Flex operators are custom codes starting with `Flex`). Unlike the
    interpreter's op list, this does not change once a delegate (XNNPACK) takes nodes over.
    """
    from ai_edge_litert import schema_py_generated as schema

    names = {
        code: name
        for name, code in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
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
        used.update(codes[graph.Operators(k).OpcodeIndex()] for k in range(graph.OperatorsLength()))
    return sorted(used)


class TFLiteRunner:
    """Float32 windows in, float32 logits out, through a LiteRT interpreter.

    Args:
        model: path to a `.tflite` file, or its bytes.
        num_threads: interpreter threads.

    Raises:
        ConfigError: unreadable file, or a model without the `ecg` -> `logits` signature.

    Example:

    ```python
    runner = TFLiteRunner("export/float32/model.tflite")
    runner.logits(np.zeros((3, runner.window, 12), np.float32)).shape
    # (3, 1)
    ```
    """

    def __init__(self, model: bytes | bytearray | os.PathLike | str, num_threads: int = 1):
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
            raise ConfigError(
                f"{where}: signature must map input {INPUT_NAME!r} to output "
                f"{OUTPUT_NAME!r}; found {list(inputs)} -> {list(outputs)}"
            )
        self.where = where  # names the file in later messages
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
    def _quantization(detail) -> tuple | None:
        scale, zero = detail["quantization"]
        return (float(scale), int(zero)) if np.dtype(detail["dtype"]) != np.float32 else None

    @property
    def input_quantization(self) -> tuple | None:
        """`(scale, zero_point)` of an integer input, None for float input."""
        return self._quantization(self.input)

    @property
    def output_quantization(self) -> tuple | None:
        return self._quantization(self.output)

    def logits(self, windows: np.ndarray) -> np.ndarray:
        """Runs `(n, T, leads)` float32 windows one by one; returns `(n, C)` float32 logits."""
        return quantized_logits(
            self, windows, lambda window: self.runner(**{INPUT_NAME: window})[OUTPUT_NAME]
        )

    def metadata(self) -> dict | None:
        """The embedded model description, checked against its schema; None if absent.

        Raises:
            ConfigError: the entry is damaged or not a `model_json` document.
        """
        document = read_embedded_json(self.blob, where=self.where)
        if document is not None:
            schemas.validate(
                document,
                "model_json",
                f"{self.where}: metadata entry {METADATA_NAME!r}",
                error_type=ConfigError,
            )
        return document


def quantized_logits(runner: TFLiteRunner, windows: np.ndarray, invoke: Callable) -> np.ndarray:
    """`(n, C)` float32 logits of `(n, T, leads)` float32 windows, run one at a time.

    `runner` gives the model's `window`, `num_leads`, `num_classes`, `input["dtype"]` and
    `input_quantization`/`output_quantization`; `invoke` runs one `(1, T, leads)` window in
    the model's input dtype. Shared by LiteRT and TFLite Micro, so both quantise alike.
    """
    x = np.asarray(windows, dtype=np.float32)
    if x.ndim != 3 or x.shape[1:] != (runner.window, runner.num_leads):
        raise ConfigError(
            f"windows must be (n, {runner.window}, {runner.num_leads}). Received shape {x.shape}"
        )
    dtype = np.dtype(runner.input["dtype"])
    out = np.empty((x.shape[0], runner.num_classes), np.float32)
    for k in range(x.shape[0]):
        window = x[k : k + 1]
        if runner.input_quantization:
            scale, zero = runner.input_quantization
            info = np.iinfo(dtype)
            window = np.clip(np.round(window / scale) + zero, info.min, info.max)
        result = invoke(window.astype(dtype))
        if runner.output_quantization:
            scale, zero = runner.output_quantization
            result = (result.astype(np.float32) - zero) * scale
        out[k] = result.reshape(-1)
    return out
