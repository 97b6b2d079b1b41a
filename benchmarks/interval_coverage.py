"""Simulated coverage of 95 % sensitivity intervals at 5, 10 and 30 positive patients.

Each simulated test set has `n_pos` positive and `4 n_pos` negative patients, one record
each (so the patient bootstrap and the record bootstrap coincide), and the index test calls
each positive positive with probability `sensitivity`. For each set we form three nominal
95 % intervals for sensitivity and count how often they contain the true value:

- the percentile patient bootstrap the package has used so far (resamples drawn by
  `keras_ecgpe.evaluation.bootstrap.resample_weights`; resamples without a positive are
  skipped, as `metrics_with_ci` does);
- the Wilson score interval;
- the Clopper-Pearson exact interval.

For Wilson and Clopper-Pearson the coverage is also computed exactly, by summing the
binomial probabilities of the counts whose interval contains the truth, over a grid of true
sensitivities (coverage of binomial intervals oscillates with n and p, so one p can mislead).

Run: `python benchmarks/interval_coverage.py [--sims 4000] [--boot 1000]`; seeded, about two
minutes on one core. Writes benchmarks/results/interval_coverage.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import write_results  # noqa: E402
from keras_ecgpe.evaluation.bootstrap import resample_weights  # noqa: E402
from keras_ecgpe.evaluation.proportions import proportion_ci  # noqa: E402

POSITIVES = (5, 10, 30)
SIMULATED_SENSITIVITIES = (0.8, 0.9)
EXACT_SENSITIVITIES = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
METHODS = ("wilson", "clopper-pearson")
TARGET = 0.93


def bootstrap_interval(called, n_pos, n_neg, n_boot, seed):
    """Percentile interval of sensitivity from a patient bootstrap of all records."""
    n = n_pos + n_neg
    hit = np.zeros(n)
    hit[:n_pos] = called
    positive = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    samples = []
    for w in resample_weights(n, n_boot=n_boot, seed=seed, groups=[f"p{i}" for i in range(n)]):
        drawn = w @ positive
        ok = drawn > 0
        samples.append((w @ hit)[ok] / drawn[ok])
    samples = np.concatenate(samples)
    low, high = np.quantile(samples, [0.025, 0.975])
    return low, high, n_boot - samples.size


def simulate(n_pos, sensitivity, n_sims, n_boot, rng):
    n_neg = 4 * n_pos
    covered = {"patient_bootstrap_percentile": 0, **{m: 0 for m in METHODS}}
    skipped = 0
    for _ in range(n_sims):
        called = (rng.random(n_pos) < sensitivity).astype(float)
        x = int(called.sum())
        low, high, n_skipped = bootstrap_interval(
            called, n_pos, n_neg, n_boot, seed=int(rng.integers(2**31))
        )
        skipped += n_skipped
        covered["patient_bootstrap_percentile"] += low <= sensitivity <= high
        for method in METHODS:
            ci = proportion_ci(x, n_pos, method=method)
            covered[method] += ci["ci_low"] <= sensitivity <= ci["ci_high"]
    out = {k: float(v / n_sims) for k, v in covered.items()}
    out["mean_bootstrap_resamples_skipped"] = skipped / n_sims
    return out


def exact_coverage(n_pos, sensitivity, method):
    """Coverage summed over the binomial distribution of the count of true positives."""
    total = 0.0
    for x in range(n_pos + 1):
        ci = proportion_ci(x, n_pos, method=method)
        if ci["ci_low"] <= sensitivity <= ci["ci_high"]:
            total += stats.binom.pmf(x, n_pos, sensitivity)
    return round(float(total), 4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=4000)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    simulated = []
    for sensitivity in SIMULATED_SENSITIVITIES:
        for n_pos in POSITIVES:
            row = simulate(n_pos, sensitivity, args.sims, args.boot, rng)
            simulated.append({"n_positive": n_pos, "true_sensitivity": sensitivity, **row})
            print(simulated[-1], flush=True)
    exact = [
        {
            "n_positive": n_pos,
            "true_sensitivity": s,
            **{m: exact_coverage(n_pos, s, m) for m in METHODS},
        }
        for n_pos in POSITIVES
        for s in EXACT_SENSITIVITIES
    ]
    minimum = {
        m: {str(n): min(r[m] for r in exact if r["n_positive"] == n) for n in POSITIVES}
        for m in METHODS
    }
    write_results(
        args.out,
        "interval_coverage.json",
        {
            "design": "n_pos positives and 4 n_pos negatives, one record per patient; nominal "
            "95 % two-sided intervals for sensitivity",
            "seed": args.seed,
            "n_simulations": args.sims,
            "n_bootstrap": args.boot,
            "target_coverage": TARGET,
            "simulated": simulated,
            "exact_binomial": exact,
            "exact_minimum_over_grid": minimum,
            "monte_carlo_se": float(np.sqrt(0.95 * 0.05 / args.sims)),
            "seconds": round(time.perf_counter() - start, 1),
        },
    )


if __name__ == "__main__":
    main()
