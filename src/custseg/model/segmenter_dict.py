"""A fitted segmenter as JSON types, and back: everything needed to predict and to explain.

Floats are stored exactly (``json`` writes the shortest repr that round-trips), so a segmenter
rebuilt by :func:`segmenter_from_dict` has bit-identical centroids and predicts exactly like the
one saved. The model file (:mod:`custseg.model.model_file`) wraps this dict with its metadata and
an integrity hash.
"""

from __future__ import annotations

import copy

import numpy as np

from custseg.catalogue import SEGMENT_NAMES, SEGMENT_TYPES
from custseg.errors import ModelIntegrityError
from custseg.model.features import CLUSTER_FEATURES, FEATURES, TRANSFORMS, inverse_transform
from custseg.model.initialisation import INITS
from custseg.model.name_checks import NameCheck
from custseg.model.naming import NamingResult
from custseg.model.segmenter import CustomerSegmenter, plain_float

_MODEL_KIND = "custseg.CustomerSegmenter"


def segmenter_to_dict(segmenter: CustomerSegmenter) -> dict:
    """Return everything needed to predict and to explain, as JSON types only.

    Returns
    -------
    dict
        Keys ``kind``, ``params``, ``features``, ``cluster_features``, ``transforms``,
        ``scaler`` (``mean``, ``scale``), ``init_used``, ``segments`` (per segment id: name,
        description, ``centroid_scaled``, ``centroid_original_units``, ``evidence``,
        ``profile``), ``name_checks``, ``naming``, ``inertia`` and ``n_customers_fit``.
        Floats are stored exactly (``json`` writes the shortest repr that round-trips), so
        :func:`segmenter_from_dict` restores bit-identical centroids.
    """
    segmenter._check_fitted("segmenter_to_dict")
    original = inverse_transform(
        segmenter.centroids_ * segmenter.scaler_scale_ + segmenter.scaler_mean_
    ).tolist()
    segments = []
    for i, sid in enumerate(segmenter.segment_ids_):
        segments.append(
            {
                "segment_id": int(sid),
                "segment_name": SEGMENT_NAMES[sid],
                "description": SEGMENT_TYPES[sid].description,
                "centroid_scaled": [plain_float(v) for v in segmenter.centroids_[i]],
                "centroid_original_units": {
                    f: plain_float(v) for f, v in zip(CLUSTER_FEATURES, original[i], strict=True)
                },
                "evidence": segmenter.naming_.evidence[i],
                "profile": copy.deepcopy(segmenter.profiles_[i]),
            }
        )
    return {
        "kind": _MODEL_KIND,
        "params": segmenter.get_params(),
        "features": list(FEATURES),
        "cluster_features": list(CLUSTER_FEATURES),
        "transforms": dict(TRANSFORMS),
        "scaler": {
            "mean": [plain_float(v) for v in segmenter.scaler_mean_],
            "scale": [plain_float(v) for v in segmenter.scaler_scale_],
        },
        "init_used": segmenter.init_used_,
        "segments": segments,
        "name_checks": [check.to_dict() for check in segmenter.name_checks_],
        "naming": segmenter.naming_.to_dict(),
        "inertia": plain_float(segmenter.inertia_),
        "n_customers_fit": segmenter.n_customers_fit_,
    }


def segmenter_from_dict(d: dict) -> CustomerSegmenter:
    """Rebuild a fitted segmenter from :func:`segmenter_to_dict` output.

    Parameters
    ----------
    d : dict
        Output of :func:`segmenter_to_dict` (possibly after a JSON round trip).

    Returns
    -------
    CustomerSegmenter
        A fitted segmenter that predicts exactly like the original. ``labels_`` is not
        restored (per-customer labels are not part of the model).

    Raises
    ------
    ModelIntegrityError
        If the dict is not a custseg segmenter, uses other features, clustering features or
        transforms than this version of custseg (e.g. a model of the former 4-dimensional
        space, which also clustered on revenue), or is malformed.
    """
    try:
        if d.get("kind") != _MODEL_KIND:
            raise ModelIntegrityError(
                f"The model is of kind {d.get('kind')!r}, expected {_MODEL_KIND!r}; this is "
                "not a custseg segmenter. Retrain the model with this version of custseg."
            )
        stored_space = (d.get("features"), d.get("cluster_features"), d.get("transforms"))
        if stored_space != (list(FEATURES), list(CLUSTER_FEATURES), TRANSFORMS):
            clusters_on = d.get("cluster_features") or d.get("features")
            raise ModelIntegrityError(
                f"The model clusters on {clusters_on} with transforms "
                f"{d.get('transforms')}, but this version of custseg clusters on "
                f"{list(CLUSTER_FEATURES)} with {TRANSFORMS} (lifetime revenue is no longer "
                "a clustering dimension). Retrain the model with this version of custseg."
            )
        params = d["params"]
        seg = CustomerSegmenter(
            n_segments=int(params["n_segments"]),
            random_state=params["random_state"],
            n_init=int(params["n_init"]),
            init=str(params["init"]),
        )
        segments = d["segments"]
        ids = tuple(int(s["segment_id"]) for s in segments)
        if list(ids) != sorted(set(ids)) or any(s not in SEGMENT_NAMES for s in ids):
            raise ValueError(f"segment ids {list(ids)} are not distinct, sorted and known")
        if len(ids) != seg.n_segments:
            raise ValueError(f"{len(ids)} segments stored but n_segments={seg.n_segments}")
        if d["init_used"] not in INITS:
            raise ValueError(f"unknown init_used {d['init_used']!r}")
        width = len(CLUSTER_FEATURES)
        seg.segment_ids_ = ids
        seg.centroids_ = _float_matrix([s["centroid_scaled"] for s in segments], len(ids), width)
        seg.scaler_mean_ = _float_matrix([d["scaler"]["mean"]], 1, width)[0]
        seg.scaler_scale_ = _float_matrix([d["scaler"]["scale"]], 1, width)[0]
        if np.any(seg.scaler_scale_ <= 0):
            raise ValueError("scaler scale must be positive")
        seg.naming_ = NamingResult.from_dict(d["naming"])
        if seg.naming_.segment_id_of_cluster != ids:
            raise ValueError("naming does not match the stored segment ids")
        seg.init_used_ = str(d["init_used"])
        seg.inertia_ = float(d["inertia"])
        seg.n_customers_fit_ = int(d["n_customers_fit"])
        seg.profiles_ = [copy.deepcopy(s["profile"]) for s in segments]
        seg.name_checks_ = tuple(NameCheck.from_dict(c) for c in d["name_checks"])
        if tuple(c.segment_id for c in seg.name_checks_) != ids:
            raise ValueError("name checks do not match the stored segment ids")
    except ModelIntegrityError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelIntegrityError(
            f"The stored segmenter is malformed ({type(exc).__name__}: {exc}). The model "
            "file was not written by this version of custseg or was edited; retrain it."
        ) from exc
    return seg


def _float_matrix(rows: list, n_rows: int, n_cols: int) -> np.ndarray:
    """Parse a stored (n_rows, n_cols) float matrix, refusing wrong shapes and non-finite values."""
    A = np.array(rows, dtype=np.float64)
    if A.shape != (n_rows, n_cols) or not np.all(np.isfinite(A)):
        raise ValueError(f"expected a finite ({n_rows}, {n_cols}) matrix, got {A.shape}")
    return A
