"""Inference on ECG record files with a trained `.keras` model or its exported `.tflite`.

`Predictor.load(path)` accepts a run directory, a `.keras` model with `contract.json`
beside it, or a `.tflite` carrying its contract as metadata; both backends share one
preprocessing path, so the same record gets the same decision from either.
`TFLiteRunner` runs an exported model in LiteRT (float32 or int8 input/output) and reads
its embedded contract without TensorFlow.

Example:

```python
from keras_ecgpe.inference import Predictor
Predictor.load("runs/pe").predict_files(["real-ecg/cinc/HR06000"])
```
"""

from keras_ecgpe.inference.predictor import Predictor
from keras_ecgpe.inference.tflite_runner import (
    METADATA_NAME,
    TFLiteRunner,
    read_embedded_json,
)

__all__ = ["METADATA_NAME", "Predictor", "TFLiteRunner", "read_embedded_json"]
