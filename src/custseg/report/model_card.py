"""What the page shows about the model: the template context of the k evidence and model card.

Both sections come from the model document, its metrics and ``k_selection.json``, not from the
mart: which k was chosen and why, what was fitted on which data with which settings, how good
it is, and why each segment carries its name.
"""

from __future__ import annotations

from collections.abc import Mapping

from custseg.report.charts import k_chart, segment_color
from custseg.report.data import MartFacts, SegmentFacts
from custseg.report.sections import legend_key
from custseg.report.text import Money, measure, number, percent, plain, thousands

QUALITY_NOTE = (
    "Silhouette runs from -1 to 1: how much closer customers are to their own segment than to "
    "the next one (a common rule of thumb: above 0.25 weak, 0.5 reasonable, 0.7 strong "
    "structure; customer behaviour is a continuum, so segments touch). "
    "Davies-Bouldin compares each segment's spread with its distance to the nearest other "
    "segment: lower is better. Inertia is the sum of squared distances to the segment centres "
    "in the standardized space, comparable only between fits on the same data."
)
# The segment means beside each name's rule: the measures the segments are named by, as
# (profile measure, words before its value). They are the arithmetic means of
# the profile charts, not the K-means centres: those are taken in the log space the model
# clusters in, so for orders and order value they are close to a geometric mean, well below
# the plain average a marketer compares with (the centres stay in the model file and seed).
_SEGMENT_MEANS = (
    ("days_since_last_purchase", "mean recency "),
    ("total_orders", "mean "),
    ("avg_order_value", "mean order value "),
)
# The k evidence's lines: (legend label, colour, dash pattern, evaluation key).
_K_SERIES = (
    ("Silhouette", "#3572c6", "", "silhouette"),
    ("Stability, ARI mean", "#1f9e89", "", "stability_ari_mean"),
    ("Stability, ARI worst", "#1f9e89", "5 4", "stability_ari_worst"),
)


def k_evidence(k_selection: Mapping | None, *, published_k: int, metadata: Mapping) -> dict | None:
    """The evidence for k: the chart, the table and the selection's reasoning.

    None when there is no evaluation to show (the page then says how to produce one).
    """
    if not k_selection or not k_selection.get("evaluations"):
        return None
    evaluations = sorted(k_selection["evaluations"], key=lambda e: int(e["k"]))
    chosen = k_selection.get("chosen_k")
    rows = []
    for e in evaluations:
        unsupported = e.get("unsupported_names") or []
        rows.append(
            {
                "k": int(e["k"]),
                "chosen": e["k"] == chosen,
                "published": e["k"] == published_k,
                "silhouette": number(e.get("silhouette"), 3),
                "davies_bouldin": number(e.get("davies_bouldin"), 3),
                "inertia": number(e.get("inertia"), 1),
                "ari_mean": number(e.get("stability_ari_mean"), 3),
                "ari_worst": number(e.get("stability_ari_worst"), 3),
                "smallest": percent(float(e.get("smallest_segment_share", 0.0))),
                "names": "yes" if not unsupported else "no: " + ", ".join(map(str, unsupported)),
            }
        )
    series = [
        (name, color, dash, [e.get(key) for e in evaluations])
        for name, color, dash, key in _K_SERIES
    ]
    chart = k_chart(
        "chart-k",
        "Quality and stability by number of segments",
        "Silhouette and bootstrap stability (adjusted Rand index, mean and worst) for each k; "
        "higher is better; the shaded column is the k the selection rule chose.",
        [int(e["k"]) for e in evaluations],
        series,
        chosen=chosen,
    )
    reason = str(k_selection.get("reason", "")).strip().rstrip(".")
    notes = [f"{reason}." if reason else ""]
    if chosen is not None and chosen != published_k:
        automatic = (metadata.get("config") or {}).get("k_chosen_automatically")
        notes.append(
            f"The published model uses k = {published_k}"
            + (
                ", chosen by an evaluation other than this one."
                if automatic
                else ", set explicitly with --k."
            )
        )
    return {
        "chosen": chosen if chosen is not None else "none",
        "reasoning": " ".join(n for n in notes if n),
        "legend": [legend_key(name, color, dash) for name, color, dash, _ in _K_SERIES],
        "chart": chart,
        "rows": rows,
    }


def k_selection_withheld(k_selection: Mapping | None, metadata: Mapping) -> str | None:
    """Why the saved evidence for k is not shown beside this model, or None when it may be.

    It is shown only when it judged the very data of the model: the same dataset (when the
    model records one) and the same customers and features (the input fingerprint). Evidence
    of another dataset, of data since refreshed, or without a fingerprint (an older custseg)
    would describe segments the page does not show.
    """
    if not k_selection:
        return None
    run = k_selection.get("run_id") or "of an earlier custseg"
    dataset, model_dataset = k_selection.get("dataset"), metadata.get("dataset")
    if model_dataset is not None and dataset != model_dataset:
        return (
            f"The saved k selection (run {run}) is of dataset {dataset or 'not recorded'}, not "
            f"of this model's dataset {model_dataset}, so it is not shown. Run `custseg "
            "evaluate` on this dataset (or `custseg run --k auto`) to add the evidence for k."
        )
    if k_selection.get("input_fingerprint") != metadata.get("input_fingerprint"):
        return (
            f"The saved k selection (run {run}) judged other data than the published model "
            "(the customers or their features differ), so it is not shown. Run `custseg "
            "evaluate` again (or `custseg run --k auto`) to add the evidence for k."
        )
    return None


def model_card(
    document: Mapping, metrics: Mapping, *, model_file: str, facts: MartFacts, money: Money
) -> dict:
    """The model card: four cards of facts and the table of name evidence, with each
    segment's means as the profile charts show them (from ``facts``)."""
    metadata = document.get("metadata", {})
    model = document.get("model", {})
    transforms = model.get("transforms", {})
    features = ", ".join(
        f"{name} ({transforms.get(name, 'identity')})" for name in model.get("cluster_features", [])
    )
    silhouette = metrics.get("silhouette")
    silhouette_text = "n/a" if silhouette is None else f"{silhouette:.3f}"
    if metrics.get("silhouette_sample_size"):
        silhouette_text += f" (on {thousands(int(metrics['silhouette_sample_size']))} customers)"
    if metrics.get("silhouette_note"):
        silhouette_text += f" ({metrics['silhouette_note']})"
    data_facts = [
        ("Dataset", metadata.get("dataset") or "not recorded"),
        ("Run id", metadata.get("run_id") or "not recorded"),
        ("As-of date", metadata.get("as_of_date", "")),
        ("Customers", thousands(int(metadata.get("n_customers", 0) or 0))),
        ("Fitted on", thousands(int(model.get("n_customers_fit", 0) or 0)) + " customers"),
        ("Clustered on", f"{features}, standardized"),
        ("Initialisation", str(model.get("init_used", ""))),
        ("Data fingerprint", metadata.get("input_fingerprint", "")),
        ("Model file", f"{model_file} (format {document.get('format_version', '')})"),
        ("Model sha256", document.get("integrity", {}).get("sha256", "")),
        ("custseg version", document.get("custseg_version", "")),
        ("Previous model", _previous_model(metadata.get("matching_previous_model"))),
        ("Currency", money.currency or "no label (set currency, e.g. --currency EUR)"),
    ]
    quality = [
        ("Segments (k)", str(metrics.get("k", len(model.get("segments", []))))),
        ("Silhouette", silhouette_text),
        ("Davies-Bouldin", number(metrics.get("davies_bouldin"), 3)),
        ("Inertia", number(metrics.get("inertia"), 1)),
    ]
    config = sorted((metadata.get("config") or {}).items())
    versions = sorted((metadata.get("library_versions") or {}).items())
    return {
        "cards": [
            _card(
                "Data and model", data_facts, mono=("Run id", "Data fingerprint", "Model sha256")
            ),
            _card("Quality", quality, note=QUALITY_NOTE),
            _card("Configuration", [(k, plain(v)) for k, v in config]),
            _card("Library versions", [(k, str(v)) for k, v in versions]),
        ],
        "naming": _naming_rows(model, facts, money),
    }


def _card(
    title: str, items: list[tuple[str, object]], mono: tuple[str, ...] = (), note: str = ""
) -> dict:
    """One card of facts; the values of the ``mono`` facts are set in a monospace font."""
    return {"title": title, "items": items, "mono": mono, "note": note}


def _naming_rows(model: Mapping, facts: MartFacts, money: Money) -> list[dict]:
    """Per segment: its naming evidence, the name check and its verdict, and its means."""
    checks = {int(c.get("segment_id")): c for c in model.get("name_checks", [])}
    in_mart = {s.segment_id: s for s in facts.segments}
    rows = []
    for s in model.get("segments", []):
        sid = int(s.get("segment_id"))
        check = checks.get(sid, {})
        passed = check.get("passed")
        rows.append(
            {
                "segment_id": sid,
                "color": segment_color(sid),
                "name": s.get("segment_name", ""),
                "evidence": s.get("evidence", ""),
                "rule": check.get("rule", ""),
                "detail": check.get("detail", ""),
                "verdict": "" if passed is None else "held" if passed else "not met",
                "means": _segment_means(in_mart.get(sid), money),
            }
        )
    return rows


def _segment_means(segment: SegmentFacts | None, money: Money) -> list[str]:
    """ "mean recency 56 days", "mean 3.2 orders", ...; none for a segment not in the mart."""
    if segment is None:
        return []
    return [
        f"{before}{measure(column, segment.mean(column), money)}"
        for column, before in _SEGMENT_MEANS
    ]


def _previous_model(matching: Mapping | None) -> str:
    """How the published segment ids relate to the previously published model's."""
    if not matching:
        return "first published model (nothing to match)"
    if matching.get("definitions_changed"):
        return "definitions changed: " + str(matching.get("reason", ""))
    largest = max((m.get("distance", 0.0) for m in matching.get("matches", [])), default=0.0)
    return "ids kept from the previous model (largest centroid move " + number(largest, 2) + " sd)"
