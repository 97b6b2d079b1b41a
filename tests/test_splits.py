"""Patient-level stratified splits and folds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_ecgpe.data.splits import patient_stratified_kfold, patient_stratified_split
from keras_ecgpe.errors import ConfigError


def cohort(seed=0):
    """SYNTHETIC: 900 records of patients with 1-5 records each, 20 % of patients PE."""
    rng = np.random.default_rng(seed)
    patients, labels = [], []
    patient = 0
    while len(patients) < 900:
        label = int(rng.random() < 0.2)
        for _ in range(min(int(rng.integers(1, 6)), 900 - len(patients))):
            patients.append(f"p{patient}")
            labels.append(label)
        patient += 1
    return np.array(labels), patients


def parts_of_patients(parts, patients):
    seen = {}
    for part, patient in zip(parts, patients):
        seen.setdefault(patient, set()).add(part)
    return seen


def test_split_keeps_patients_whole_and_balances_size_and_class():
    labels, patients = cohort()
    parts = patient_stratified_split(labels, patients, seed=3)
    assert all(len(p) == 1 for p in parts_of_patients(parts, patients).values())
    for name, fraction in zip(("train", "validation", "test"), (0.7, 0.15, 0.15)):
        chosen = parts == name
        assert abs(chosen.mean() - fraction) < 0.02, name
        assert abs(labels[chosen].mean() - labels.mean()) < 0.03, name


def test_split_is_deterministic_given_the_seed():
    labels, patients = cohort()
    first = patient_stratified_split(labels, patients, seed=7)
    assert (first == patient_stratified_split(labels, patients, seed=7)).all()
    assert (first != patient_stratified_split(labels, patients, seed=8)).any()


def test_kfold_balances_each_fold_and_repeats_differ():
    labels, patients = cohort(1)
    folds = patient_stratified_kfold(labels, patients, k=5, seed=0, repeats=2)
    assert len(folds) == 2 and folds[0].shape == (900,)
    assert (folds[0] != folds[1]).any()
    for assignment in folds:
        assert all(len(f) == 1 for f in parts_of_patients(assignment, patients).values())
        assert sorted(set(assignment.tolist())) == [0, 1, 2, 3, 4]
        for fold in range(5):
            chosen = assignment == fold
            assert abs(chosen.mean() - 0.2) < 0.02
            assert abs(labels[chosen].mean() - labels.mean()) < 0.03
    again = patient_stratified_kfold(labels, patients, k=5, seed=0, repeats=2)
    assert all((a == b).all() for a, b in zip(folds, again))


def test_kfold_refuses_more_folds_than_positive_patients():
    labels = np.array([1, 1, 1, 1] + [0] * 20)
    patients = ["a", "a", "b", "c"] + [f"n{i}" for i in range(20)]
    with pytest.raises(ConfigError, match="k=5 exceeds the 3 patients with label 1"):
        patient_stratified_kfold(labels, patients, k=5)
    assert len(patient_stratified_kfold(labels, patients, k=3)[0]) == 24


def test_multilabel_spreads_the_rare_class_over_every_part():
    rng = np.random.default_rng(0)
    labels = (rng.random((300, 3)) < [0.5, 0.3, 0.0]).astype(int)
    labels[rng.choice(300, 12, replace=False), 2] = 1
    patients = [f"p{i // 2}" for i in range(300)]
    parts = patient_stratified_split(labels, patients, seed=0)
    for name in ("train", "validation", "test"):
        assert labels[parts == name, 2].sum() > 0, name


def test_unknown_patients_are_their_own_patient_and_bad_inputs_fail():
    parts = patient_stratified_split([0, 1] * 10, [None] * 20, fractions=(0.5, 0.5, 0.0))
    assert sorted(set(parts.tolist())) == ["train", "validation"]
    with pytest.raises(ConfigError, match="fractions"):
        patient_stratified_split([0, 1], ["a", "b"], fractions=(0.5, 0.6, 0.1))
    with pytest.raises(ConfigError, match="would be empty"):
        patient_stratified_split([0, 1], ["a", "b"])
    with pytest.raises(ConfigError, match="labels"):
        patient_stratified_split([0, 1, 1], ["a", "b"])
    with pytest.raises(ConfigError, match="`k`"):
        patient_stratified_kfold([0, 1], ["a", "b"], k=1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 15), st.integers(0, 1)), min_size=6, max_size=60),
    st.integers(0, 2**16),
)
def test_no_patient_is_ever_in_two_parts(rows, seed):
    patients = [f"p{p}" for p, _ in rows]
    labels = np.array([label for _, label in rows])
    try:
        parts = patient_stratified_split(labels, patients, seed=seed)
    except ConfigError:
        parts = None  # too few patients for three non-empty parts: refused, not leaked
    if parts is not None:
        assert all(len(p) == 1 for p in parts_of_patients(parts, patients).values())
    try:
        folds = patient_stratified_kfold(labels, patients, k=2, seed=seed)[0]
    except ConfigError:
        return
    assert all(len(f) == 1 for f in parts_of_patients(folds, patients).values())
