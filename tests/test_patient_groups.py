"""A record without a patient id is its own patient in the bootstrap."""

import numpy as np
import pytest

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import bootstrap_ci, patient_groups
from keras_ecgpe.evaluation.bootstrap import resample_weights


def test_missing_ids_become_one_cluster_per_record():
    keys, missing = patient_groups(
        ["p1", "", "p1", None, float("nan"), "  "], ["a", "b", "c", "d", "e", "f"]
    )
    assert missing == 4
    assert keys[0] == keys[2] and len(set(keys)) == 5
    with pytest.raises(ConfigError, match="record_ids"):
        patient_groups([None, None], ["x", "x"])


def test_one_missing_id_keeps_the_other_patients_whole():
    ids = ["p1", "p1", "p1", "p2", "p2", ""]
    for weights in resample_weights(6, n_boot=300, seed=0, groups=ids):
        # Records of a patient are always drawn together, the id-less one on its own.
        assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 1] == weights[:, 2]).all()
        assert (weights[:, 3] == weights[:, 4]).all()
        assert weights.sum(axis=1).min() >= 0 and set(np.unique(weights[:, 5])) >= {0.0, 1.0}
    # Two empty ids are two patients, not one.
    draws = next(resample_weights(3, n_boot=200, seed=1, groups=["", "", "p"]))
    assert not (draws[:, 0] == draws[:, 1]).all()


def test_bootstrap_ci_counts_skipped_resamples():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0])
    z = np.arange(8.0)
    r = bootstrap_ci(y, z, lambda a, b: float(b[a == 1].mean()), n_boot=200, seed=0)
    assert r["n_skipped"] > 0 and r["n_used"] + r["n_skipped"] == 200
