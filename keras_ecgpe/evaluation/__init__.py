"""Evaluation of multi-label ECG classifiers from numpy arrays of labels and logits.

Ranking metrics on logits, thresholded metrics at per-class thresholds chosen on validation
data, sensitivity/NPV at a fixed specificity for rule-out use, bootstrap intervals by record
or patient, temperature scaling, window aggregation, plots and a written report. Nothing
here imports TensorFlow.
"""

from keras_ecgpe.evaluation.aggregation import aggregate_windows
from keras_ecgpe.evaluation.bootstrap import bootstrap_ci, metrics_with_ci, patient_groups
from keras_ecgpe.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    reliability_curve,
)
from keras_ecgpe.evaluation.calibration_stats import (
    brier_score,
    calibration_intercept_slope,
    ece_with_noise_floor,
)
from keras_ecgpe.evaluation.decision_curve import DCA_THRESHOLDS, decision_curve
from keras_ecgpe.evaluation.delong import delong_auroc, delong_test
from keras_ecgpe.evaluation.fold_comparison import corrected_resampled_ttest, holm_adjust, sign_test
from keras_ecgpe.evaluation.inputs import sigmoid
from keras_ecgpe.evaluation.metrics import (
    METRIC_NAMES,
    compute_metrics,
    confusion_counts,
    exact_match_accuracy,
    rates_from_counts,
    undefined_reasons,
)
from keras_ecgpe.evaluation.plots import (
    plot_decision_curve,
    plot_precision_recall,
    plot_reliability,
    plot_roc,
    plot_training_curves,
)
from keras_ecgpe.evaluation.proportions import predictive_values_at_prevalence, proportion_ci
from keras_ecgpe.evaluation.ranking import (
    auroc,
    average_precision,
    operating_point,
    precision_recall_curve,
    roc_curve,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from keras_ecgpe.evaluation.report import write_report
from keras_ecgpe.evaluation.small_samples import bootstrap_interval_warnings, small_sample_warnings
from keras_ecgpe.evaluation.thresholds import (
    ThresholdChoice,
    choose_thresholds,
    decide,
    legacy_probability_to_cut,
)
from keras_ecgpe.evaluation.two_by_two import TwoByTwo, accuracy_at_cut, two_by_two

__all__ = [
    "METRIC_NAMES",
    "ThresholdChoice",
    "aggregate_windows",
    "apply_temperature",
    "auroc",
    "average_precision",
    "bootstrap_ci",
    "choose_thresholds",
    "compute_metrics",
    "confusion_counts",
    "exact_match_accuracy",
    "expected_calibration_error",
    "fit_calibration",
    "fit_temperature",
    "metrics_with_ci",
    "operating_point",
    "plot_precision_recall",
    "plot_reliability",
    "plot_roc",
    "plot_training_curves",
    "precision_recall_curve",
    "rates_from_counts",
    "reliability_curve",
    "roc_curve",
    "sensitivity_at_specificity",
    "sigmoid",
    "specificity_at_sensitivity",
    "write_report",
    "decide",
    "legacy_probability_to_cut",
    "patient_groups",
    "undefined_reasons",
    "DCA_THRESHOLDS",
    "TwoByTwo",
    "accuracy_at_cut",
    "brier_score",
    "calibration_intercept_slope",
    "corrected_resampled_ttest",
    "decision_curve",
    "delong_auroc",
    "delong_test",
    "ece_with_noise_floor",
    "holm_adjust",
    "plot_decision_curve",
    "predictive_values_at_prevalence",
    "proportion_ci",
    "sign_test",
    "small_sample_warnings",
    "two_by_two",
    "bootstrap_interval_warnings",
]

# The study's sealed-test ledger and prespecified analysis plan (docs/study.md).
from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan  # noqa: E402
from keras_ecgpe.evaluation.ledger import Ledger, LedgerError, Looks  # noqa: E402

__all__ += ["AnalysisPlan", "Ledger", "LedgerError", "Looks"]
