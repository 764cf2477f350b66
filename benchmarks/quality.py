"""Segment quality figures: size, stability, planted-truth recovery, names kept on retrain.

Run on demand (it prints figures; nothing here is a test):

    .venv/bin/python -m benchmarks.quality            # everything (about a minute)
    .venv/bin/python -m benchmarks.quality --skip-100k

Targets (issue 3): smallest segment >= 5% of customers; bootstrap ARI mean >= 0.90 and worst
>= 0.80; planted-truth ARI >= 0.90; >= 98% of customers keep their name on a reseeded retrain.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from benchmarks._workspace import REAL_DATA_DIR, features_for
from custseg.catalogue import SEGMENT_NAMES
from custseg.model.evaluation import bootstrap_stability
from custseg.model.metrics import evaluate_segmentation
from custseg.model.segmenter import CustomerSegmenter
from custseg.sample import generate_sample_data

# What the original system produced on the real data (shared/data/marketing_insights/README.md).
ORIGINAL = {
    "smallest segment share": "0.6% (9 of 1,468)",
    "bootstrap ARI mean / worst": "0.73 / 0.37",
    "silhouette": "0.319 (on its own line-count features)",
}


def real_data_figures(n_draws: int) -> None:
    features = features_for(REAL_DATA_DIR)
    X = features.matrix
    segmenter = CustomerSegmenter(n_segments=5, random_state=42).fit(X)
    metrics = evaluate_segmentation(
        segmenter.scale(X), segmenter.labels_, inertia=segmenter.inertia_, random_state=42
    )
    stability = bootstrap_stability(
        X, segmenter.labels_, segmenter, n_draws=n_draws, sample_fraction=0.8, random_state=0
    )
    smallest = min(profile["share"] for profile in segmenter.profiles_)
    print(f"Real dataset, k=5, {X.shape[0]:,} customers")
    print(f"  {'figure':<28}{'custseg':>22}   original")
    print(
        f"  {'smallest segment share':<28}{smallest:>22.1%}   {ORIGINAL['smallest segment share']}"
    )
    ari = f"{stability.ari_mean:.3f} / {stability.ari_worst:.3f}"
    print(
        f"  {'bootstrap ARI mean / worst':<28}{ari:>22}   {ORIGINAL['bootstrap ARI mean / worst']}"
    )
    print(f"  {'silhouette':<28}{metrics['silhouette']:>22.3f}   {ORIGINAL['silhouette']}")
    print(f"  ({n_draws} refits on 80% subsamples drawn without replacement)")
    for profile in segmenter.profiles_:
        mean = profile["mean"]
        print(
            f"  {profile['segment_id']} {profile['segment_name']:<22} {profile['count']:>5} "
            f"({profile['share']:.1%})  recency {mean['recency_days']:6.1f} d  "
            f"orders {mean['count_orders']:5.1f}  revenue {mean['lifetime_revenue']:9.1f}  "
            f"AOV {mean['avg_order_value']:7.1f}"
        )
    failed = [check.describe() for check in segmenter.unsupported_names()]
    print("  name checks: " + ("; ".join(failed) if failed else "all pass"))
    reseeded_retrain(X)


def reseeded_retrain(X: np.ndarray) -> None:
    for init in ("anchors", "k-means++"):
        first = CustomerSegmenter(n_segments=5, random_state=42, init=init).fit(X)
        kept = [
            float(np.mean(first.labels_ == CustomerSegmenter(5, seed, init=init).fit(X).labels_))
            for seed in range(1, 11)
        ]
        print(
            f"  reseeded retrain (init={init}, random_state 1..10 vs 42): customers keeping "
            f"their name {np.mean(kept):.1%} on average, {np.min(kept):.1%} at worst"
        )


def planted_truth(n_customers: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        started = time.perf_counter()
        generate_sample_data(data_dir, n_customers=n_customers, seed=42)
        with open(data_dir / "planted_segments.csv", newline="") as handle:
            truth = {row["customer_id"]: row["archetype"] for row in csv.DictReader(handle)}
        features = features_for(data_dir)
    segmenter = CustomerSegmenter(n_segments=5, random_state=42).fit(features.matrix)
    planted = [truth[customer_id] for customer_id in features.customer_ids]
    found = [SEGMENT_NAMES[int(label)] for label in segmenter.labels_]
    ari = adjusted_rand_score(planted, found)
    named = np.mean([a == b for a, b in zip(planted, found, strict=True)])
    print(
        f"Planted archetypes, {n_customers:,} customers: ARI vs truth {ari:.4f}, "
        f"named as planted {named:.2%} ({time.perf_counter() - started:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30, help="bootstrap refits (default 30)")
    parser.add_argument("--skip-100k", action="store_true", help="skip the 100k planted run")
    args = parser.parse_args()
    if REAL_DATA_DIR.is_dir():
        real_data_figures(args.draws)
    else:
        print(f"Real dataset not found at {REAL_DATA_DIR}: skipped")
    planted_truth(1_000)
    if not args.skip_100k:
        planted_truth(100_000)


if __name__ == "__main__":
    main()
