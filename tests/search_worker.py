"""One process of a shared Optuna search (tests/test_study_grid_runs.py): runs trials of
fold r1-f1's search on a toy cache until the storage holds `trials` finished ones; the
trials' run directories go under TRIAL_ROOT/r1-f1 (as `grid_search.fold_trainer` puts them).

    python tests/search_worker.py CACHE STORAGE_URL TRIAL_ROOT TRIALS
"""

import sys
from pathlib import Path

from keras_ecgpe.data.cache import PreparedCache
from keras_ecgpe.studies.cv_plan import plan_folds
from keras_ecgpe.studies.grid_search import open_storage, search_fold
from keras_ecgpe.studies.grid_spec import SearchSpec
from keras_ecgpe.training.config import TrainConfig

STUDY = "test/cell/r1-f1"
SEARCH = {
    "space": {
        "optimizer.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "model.overrides.width": {"type": "categorical", "choices": [2, 4]},
    },
    "startup_trials": 1,
    "warmup_epochs": 0,
    "heartbeat_s": 1,
}


def config(cache: str) -> TrainConfig:
    return TrainConfig().with_values(
        {
            "data.cache": cache,
            "model.name": "resnet1d18",
            "training.epochs": 1,
            "training.batch_size": 8,
            "evaluation.bootstrap": 0,
        }
    )


def first_fold(cache: str):
    return plan_folds(PreparedCache.open(cache), k=2, seed=0)[0]


def main(cache: str, url: str, trial_root: str, trials: str) -> None:
    search = SearchSpec(trials=int(trials), **SEARCH)
    study = search_fold(
        search,
        open_storage(url, search.heartbeat_s),
        STUDY,
        config(cache),
        first_fold(cache),
        Path(trial_root) / "r1-f1",
    )
    print(len(study.trials))


if __name__ == "__main__":
    main(*sys.argv[1:])
