"""Training and evaluation runs: config, losses, schedules, transfer, trainer, evaluation.

`train_run(TrainConfig, run_dir)` trains on a prepared cache's train split, selects on its
validation split and writes a self-describing run directory (config, history, checkpoints,
input contract, validation metrics, plots); `evaluate_run(run_dir, cache)` scores the
model once on the test split with bootstrap intervals. Importing this package does not
import TensorFlow; the functions do.

Example:

```python
from keras_ecgpe.training import TrainConfig, train_run, evaluate_run
config = TrainConfig().with_overrides(["data.cache=prepared/pe"])
result = train_run(config, "runs/pe")
metrics = evaluate_run("runs/pe", "prepared/pe")
```
"""

from keras_ecgpe.training.config import TrainConfig
from keras_ecgpe.training.evaluate import evaluate_run
from keras_ecgpe.training.trainer import RunResult, train_run

__all__ = ["RunResult", "TrainConfig", "evaluate_run", "train_run"]
