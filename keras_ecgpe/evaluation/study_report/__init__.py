"""The study report of one evaluation, in STARD 2015 / TRIPOD+AI order, as a `Report`.

`build_study_report(metrics)` turns the dict `evaluate_run` writes to `metrics.json` into a
`keras_ecgpe.reporting.Report`: title (with a SYNTHETIC banner), study design and analysis
plan, participant flow, baseline characteristics, test-split looks (ledger), leakage
checks, discrimination, operating points (2x2 and accuracy tables), calibration, decision
curve, subgroups, secondary figures, warnings and methods. Every undefined number is a
`Cell(None, reason=...)`, read "n/a" with its reason, never 0.

One module per group of sections: `design` (1), `flow` (2-3), `looks` (4-5), `accuracy`
(6-7), `calibration` (8-9), `subgroups` (10), `methods` (11-13); `cells` holds what they
share and `build` puts them in order. The pieces other reports reuse are exported here:
`participant_flow_table`, `exclusions_block`, `two_by_two_table`, `accuracy_table`,
`plan_blocks`, `estimate_cell`, `interval_cell`.
"""

from keras_ecgpe.evaluation.study_report.accuracy import accuracy_table, two_by_two_table
from keras_ecgpe.evaluation.study_report.build import build_study_report, study_summary_lines
from keras_ecgpe.evaluation.study_report.cells import estimate_cell, interval_cell
from keras_ecgpe.evaluation.study_report.design import plan_blocks
from keras_ecgpe.evaluation.study_report.flow import exclusions_block, participant_flow_table
from keras_ecgpe.evaluation.study_report.methods import report_warnings

__all__ = [
    "accuracy_table",
    "build_study_report",
    "estimate_cell",
    "exclusions_block",
    "interval_cell",
    "participant_flow_table",
    "plan_blocks",
    "report_warnings",
    "study_summary_lines",
    "two_by_two_table",
]
