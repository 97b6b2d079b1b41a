"""Studies: many training runs planned, trained and summarised together.

A single run (`keras_ecgpe.training.train_run`) trains one model; a study trains several
on a plan and reads them together. `cross_validate` runs repeated patient-level k-fold
cross-validation on a cache's non-test records and pools the held-out predictions with
patient-bootstrap intervals; `compare_arms` cross-validates scratch, linear-probe and
fine-tuned arms on the same folds and compares them with paired intervals; `run_study`
runs a declarative grid of such cross-validations (`StudySpec`, docs/study_grid.md). Each fold is an
ordinary run directory (see `keras_ecgpe.run_directory`). Importing this package does not
import TensorFlow; the functions do.

Example:

```python
from keras_ecgpe.studies import cross_validate
summary = cross_validate(config, "runs/cv", k=5, repeats=2)
```
"""

from keras_ecgpe.studies.comparison import compare_arms
from keras_ecgpe.studies.cross_validation import cross_validate
from keras_ecgpe.studies.grid_runner import run_study
from keras_ecgpe.studies.grid_spec import StudySpec

__all__ = ["StudySpec", "compare_arms", "cross_validate", "run_study"]
