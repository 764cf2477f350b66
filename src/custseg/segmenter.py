"""K-means customer segmenter with named, canonically ordered segments.

:class:`CustomerSegmenter` follows the scikit-learn estimator contract: ``__init__`` only stores
parameters, :meth:`~CustomerSegmenter.fit` validates its input, sets attributes ending in ``_``
and returns ``self``. The feature matrix has one row per customer and the columns of
:data:`FEATURES`, in original units.

Pipeline inside :meth:`~CustomerSegmenter.fit`:

1. transform: recency as is, ``log1p`` on orders, revenue and order value (they are heavy-tailed);
2. standardize: subtract the mean, divide by the population standard deviation (a constant
   column is divided by 1);
3. ``sklearn.cluster.KMeans(n_clusters=n_segments, n_init=n_init, random_state=random_state)``,
   finished with plain-numpy Lloyd steps until no customer changes cluster (so the centroids
   do not depend on the number of threads and are exactly the means of their members);
4. name the clusters with :func:`custseg.naming.name_clusters`;
5. re-order everything by segment id, so the fitted model does not depend on K-means' arbitrary
   cluster numbering: centroid row ``i`` belongs to segment ``segment_ids_[i]``.

Prediction assigns each row to the nearest centroid (squared Euclidean distance in the scaled
space; ties go to the lowest segment id) in plain numpy, so a model restored from JSON with
:meth:`~CustomerSegmenter.from_dict` predicts exactly like the fitted one.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.cluster import KMeans

from custseg.errors import (
    ConfigError,
    InputDataError,
    InsufficientDataError,
    ModelIntegrityError,
    SegmentationError,
)
from custseg.naming import (
    MAX_SEGMENTS,
    MIN_SEGMENTS,
    SEGMENT_DESCRIPTIONS,
    SEGMENT_NAMES,
    NamingResult,
    name_clusters,
)

__all__ = ["FEATURES", "TRANSFORMS", "CustomerSegmenter"]

#: Column order of the feature matrix (original units).
FEATURES: tuple[str, ...] = (
    "recency_days",
    "count_orders",
    "lifetime_revenue",
    "avg_order_value",
)

#: Transform applied to each feature before standardizing.
TRANSFORMS: dict[str, str] = {
    "recency_days": "identity",
    "count_orders": "log1p",
    "lifetime_revenue": "log1p",
    "avg_order_value": "log1p",
}

_LOG1P = np.array([TRANSFORMS[f] == "log1p" for f in FEATURES])
_MODEL_KIND = "custseg.CustomerSegmenter"
# Lloyd steps after scikit-learn's K-means (see _polish); it usually needs 1-3.
_MAX_POLISH_STEPS = 100


class CustomerSegmenter:
    """Cluster customers with K-means and name the clusters by rule.

    Parameters
    ----------
    n_segments : int, default=5
        Number of segments (K-means clusters), 2..5: naming defines five segments.
    random_state : int, default=42
        Seed of K-means' initialisation; fixes the result for a given input.
    n_init : int, default=10
        Number of K-means initialisations; the one with the lowest inertia is kept.

    Attributes
    ----------
    segment_ids_ : tuple of int
        Sorted ids of the segments the model uses (all five when ``n_segments=5``).
    centroids_ : ndarray of shape (n_segments, 4)
        Centroids in the scaled space, row ``i`` for segment ``segment_ids_[i]``.
    labels_ : ndarray of shape (n_customers,)
        Segment id of each training row. Only set by :meth:`fit`, not by :meth:`from_dict`.
    scaler_mean_, scaler_scale_ : ndarray of shape (4,)
        Mean and scale of the transformed features.
    inertia_ : float
        Sum of squared distances of the training rows to their centroid (scaled space).
    naming_ : NamingResult
        Naming outcome, with clusters in the order of ``segment_ids_``.
    profiles_ : list of dict
        Per segment (order of ``segment_ids_``): ``segment_id``, ``segment_name``, ``count``,
        ``share`` and ``mean`` / ``median`` of each feature in original units.
    n_customers_fit_ : int
        Number of training rows.

    Examples
    --------
    >>> seg = CustomerSegmenter(n_segments=5, random_state=42).fit(X)  # doctest: +SKIP
    >>> seg.predict(X_new)  # doctest: +SKIP
    """

    def __init__(self, n_segments: int = 5, random_state: int = 42, n_init: int = 10) -> None:
        self.n_segments = n_segments
        self.random_state = random_state
        self.n_init = n_init

    # ------------------------------------------------------------------ sklearn-style API

    def get_params(self, deep: bool = True) -> dict:
        """Return the constructor parameters (scikit-learn convention)."""
        return {
            "n_segments": self.n_segments,
            "random_state": self.random_state,
            "n_init": self.n_init,
        }

    def set_params(self, **params: object) -> CustomerSegmenter:
        """Set constructor parameters (scikit-learn convention) and return ``self``."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"Unknown parameter {key!r}; valid parameters: {sorted(valid)}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"CustomerSegmenter({args})"

    def fit(self, X: np.ndarray, y: None = None) -> CustomerSegmenter:
        """Fit K-means on the customers' features and name the segments.

        Parameters
        ----------
        X : array-like of shape (n_customers, 4)
            Features in the order of :data:`FEATURES`, original units, finite and >= 0.
        y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        CustomerSegmenter
            The fitted estimator.

        Raises
        ------
        ConfigError
            If a parameter is invalid (e.g. ``n_segments`` outside 2..5).
        InputDataError
            If ``X`` has the wrong shape or contains NaN, infinite or negative values.
        InsufficientDataError
            If there are fewer customers, or fewer distinct feature rows, than segments.
        """
        k, n_init, random_state = self._checked_params()
        X = _validate_features(X, "fit")
        n = X.shape[0]
        if n < k:
            raise InsufficientDataError(
                f"Cannot form {k} segments from {n} customer(s): K-means needs at least as many "
                f"customers as segments (n_segments={k}). Provide more customers or lower "
                f"n_segments (minimum {MIN_SEGMENTS})."
            )
        n_distinct = np.unique(X, axis=0).shape[0]
        if n_distinct < k:
            raise InsufficientDataError(
                f"Cannot form {k} segments: the {n} customers have only {n_distinct} distinct "
                f"feature profile(s), and every segment needs a different one (n_segments={k}). "
                f"Lower n_segments (minimum {MIN_SEGMENTS}) or check that the feature table is "
                "not degenerate (e.g. every customer with the same values)."
            )

        Xt = _transform_raw(X)
        mean = Xt.mean(axis=0)
        scale = Xt.std(axis=0)
        # A constant column carries no information; dividing by 1 keeps it at zero.
        scale[np.ptp(Xt, axis=0) == 0] = 1.0
        Z = (Xt - mean) / scale

        km = KMeans(n_clusters=k, n_init=n_init, random_state=random_state)
        km.fit(Z)
        centers, positions = _polish(Z, np.asarray(km.cluster_centers_, dtype=np.float64))

        naming = name_clusters(centers)
        order = np.argsort(np.array(naming.segment_id_of_cluster), kind="stable")
        segment_ids = tuple(int(naming.segment_id_of_cluster[i]) for i in order)
        centroids = centers[order].copy()
        positions = np.argsort(order)[positions]  # K-means cluster index -> row of centroids
        diffs = Z - centroids[positions]

        # Set fitted attributes only once everything has succeeded.
        self.segment_ids_ = segment_ids
        self.centroids_ = centroids
        self.scaler_mean_ = mean
        self.scaler_scale_ = scale
        self.naming_ = naming.reordered(order)
        self.labels_ = np.array(segment_ids, dtype=np.int64)[positions]
        self.inertia_ = float(np.einsum("ij,ij->", diffs, diffs))
        self.n_customers_fit_ = int(n)
        self.profiles_ = _profiles(X, positions, segment_ids)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Map features to the scaled space the centroids live in.

        Parameters
        ----------
        X : array-like of shape (n_customers, 4)
            Features in the order of :data:`FEATURES`, original units.

        Returns
        -------
        ndarray of shape (n_customers, 4)
            ``(transform(X) - scaler_mean_) / scaler_scale_``.
        """
        self._check_fitted("transform")
        X = _validate_features(X, "transform")
        return (_transform_raw(X) - self.scaler_mean_) / self.scaler_scale_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return the segment id of each row (nearest centroid, ties to the lowest id).

        Parameters
        ----------
        X : array-like of shape (n_customers, 4)
            Features in the order of :data:`FEATURES`, original units.

        Returns
        -------
        ndarray of int64, shape (n_customers,)
            Segment ids (keys of :data:`custseg.naming.SEGMENT_NAMES`).
        """
        Z = self.transform(X)
        ids = np.array(self.segment_ids_, dtype=np.int64)
        return ids[_nearest(Z, self.centroids_)]

    def fit_predict(self, X: np.ndarray, y: None = None) -> np.ndarray:
        """Fit and return :attr:`labels_`."""
        return self.fit(X).labels_

    def segment_names(self, segment_ids: np.ndarray) -> list[str]:
        """Translate segment ids (e.g. the output of :meth:`predict`) into names."""
        return [SEGMENT_NAMES[int(s)] for s in np.asarray(segment_ids).ravel()]

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict:
        """Return everything needed to predict and to explain, as JSON types only.

        Returns
        -------
        dict
            Keys ``kind``, ``params``, ``features``, ``transforms``, ``scaler`` (``mean``,
            ``scale``), ``segments`` (per segment id: name, description, ``centroid_scaled``,
            ``centroid_original_units``, ``evidence``, ``weak_match``, ``profile``),
            ``naming``, ``inertia`` and ``n_customers_fit``. Floats are stored exactly (``json``
            writes the shortest repr that round-trips), so :meth:`from_dict` restores
            bit-identical centroids.
        """
        self._check_fitted("to_dict")
        original = _inverse_transform(
            self.centroids_ * self.scaler_scale_ + self.scaler_mean_
        ).tolist()
        segments = []
        for i, sid in enumerate(self.segment_ids_):
            segments.append(
                {
                    "segment_id": int(sid),
                    "segment_name": SEGMENT_NAMES[sid],
                    "description": SEGMENT_DESCRIPTIONS[sid],
                    "centroid_scaled": [_f(v) for v in self.centroids_[i]],
                    "centroid_original_units": {
                        f: _f(v) for f, v in zip(FEATURES, original[i], strict=True)
                    },
                    "evidence": self.naming_.evidence[i],
                    "weak_match": self.naming_.weak_match[i],
                    "profile": copy.deepcopy(self.profiles_[i]),
                }
            )
        return {
            "kind": _MODEL_KIND,
            "params": self.get_params(),
            "features": list(FEATURES),
            "transforms": dict(TRANSFORMS),
            "scaler": {
                "mean": [_f(v) for v in self.scaler_mean_],
                "scale": [_f(v) for v in self.scaler_scale_],
            },
            "segments": segments,
            "naming": self.naming_.to_dict(),
            "inertia": _f(self.inertia_),
            "n_customers_fit": self.n_customers_fit_,
        }

    @classmethod
    def from_dict(cls, d: dict) -> CustomerSegmenter:
        """Rebuild a fitted segmenter from :meth:`to_dict` output.

        Parameters
        ----------
        d : dict
            Output of :meth:`to_dict` (possibly after a JSON round trip).

        Returns
        -------
        CustomerSegmenter
            A fitted segmenter that predicts exactly like the original. ``labels_`` is not
            restored (per-customer labels are not part of the model).

        Raises
        ------
        ModelIntegrityError
            If the dict is not a custseg segmenter, uses other features or transforms than
            this version of custseg, or is malformed.
        """
        try:
            if d.get("kind") != _MODEL_KIND:
                raise ModelIntegrityError(
                    f"The model is of kind {d.get('kind')!r}, expected {_MODEL_KIND!r}; this is "
                    "not a custseg segmenter. Retrain the model with this version of custseg."
                )
            if tuple(d["features"]) != FEATURES or dict(d["transforms"]) != TRANSFORMS:
                raise ModelIntegrityError(
                    f"The model was trained on features {d['features']} with transforms "
                    f"{d['transforms']}, but this version of custseg uses {list(FEATURES)} with "
                    f"{TRANSFORMS}. Retrain the model with this version of custseg."
                )
            params = d["params"]
            seg = cls(
                n_segments=int(params["n_segments"]),
                random_state=params["random_state"],
                n_init=int(params["n_init"]),
            )
            segments = d["segments"]
            ids = tuple(int(s["segment_id"]) for s in segments)
            if list(ids) != sorted(set(ids)) or any(s not in SEGMENT_NAMES for s in ids):
                raise ValueError(f"segment ids {list(ids)} are not distinct, sorted and known")
            if len(ids) != seg.n_segments:
                raise ValueError(f"{len(ids)} segments stored but n_segments={seg.n_segments}")
            seg.segment_ids_ = ids
            seg.centroids_ = _float_matrix([s["centroid_scaled"] for s in segments], len(ids))
            seg.scaler_mean_ = _float_matrix([d["scaler"]["mean"]], 1)[0]
            seg.scaler_scale_ = _float_matrix([d["scaler"]["scale"]], 1)[0]
            if np.any(seg.scaler_scale_ <= 0):
                raise ValueError("scaler scale must be positive")
            seg.naming_ = NamingResult.from_dict(d["naming"])
            if seg.naming_.segment_id_of_cluster != ids:
                raise ValueError("naming does not match the stored segment ids")
            seg.inertia_ = float(d["inertia"])
            seg.n_customers_fit_ = int(d["n_customers_fit"])
            seg.profiles_ = [copy.deepcopy(s["profile"]) for s in segments]
        except ModelIntegrityError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelIntegrityError(
                f"The stored segmenter is malformed ({type(exc).__name__}: {exc}). The model "
                "file was not written by this version of custseg or was edited; retrain it."
            ) from exc
        return seg

    # ------------------------------------------------------------------ helpers

    def _checked_params(self) -> tuple[int, int, int]:
        """Validate the constructor parameters (at fit time, as scikit-learn does)."""
        k = self.n_segments
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise ConfigError(f"n_segments must be an integer, got {k!r}.")
        if not MIN_SEGMENTS <= k <= MAX_SEGMENTS:
            raise ConfigError(
                f"Naming defines {MAX_SEGMENTS} segments, so n_segments must be between "
                f"{MIN_SEGMENTS} and {MAX_SEGMENTS}; got {k}. Set n_segments to a value in "
                f"{MIN_SEGMENTS}..{MAX_SEGMENTS}."
            )
        n_init = self.n_init
        if isinstance(n_init, bool) or not isinstance(n_init, int | np.integer) or n_init < 1:
            raise ConfigError(f"n_init must be a positive integer, got {n_init!r}.")
        rs = self.random_state
        if isinstance(rs, bool) or not isinstance(rs, int | np.integer):
            raise ConfigError(
                f"random_state must be an integer so that results are reproducible, got {rs!r}."
            )
        return int(k), int(n_init), int(rs)

    def _check_fitted(self, method: str) -> None:
        """Raise SegmentationError if the model has neither been fitted nor loaded."""
        if not hasattr(self, "centroids_"):
            raise SegmentationError(
                f"This CustomerSegmenter is not fitted yet, so {method}() cannot run. Call fit(X) "
                "first or load a saved model."
            )


# ---------------------------------------------------------------------- module helpers


def _validate_features(X: object, method: str) -> np.ndarray:
    """Return ``X`` as a float64 (n, 4) array, or raise InputDataError naming the problem."""
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"{method}() needs a numeric matrix with columns {', '.join(FEATURES)}; the input "
            f"could not be converted to numbers ({exc})."
        ) from exc
    if A.ndim != 2 or A.shape[1] != len(FEATURES):
        raise InputDataError(
            f"{method}() needs a 2-D matrix with {len(FEATURES)} columns "
            f"({', '.join(FEATURES)}); got shape {A.shape}. Select exactly these columns, in "
            "this order."
        )
    if A.shape[0] == 0:
        raise InsufficientDataError(
            f"{method}() received no customers (0 rows). Check that the feature table is populated."
        )
    problems = []
    not_finite = ~np.isfinite(A)
    for j in np.flatnonzero(not_finite.any(axis=0)):
        problems.append(f"{FEATURES[j]}: {int(not_finite[:, j].sum())} row(s) NaN or infinite")
    negative = np.where(not_finite, False, A < 0)
    for j in np.flatnonzero(negative.any(axis=0)):
        problems.append(f"{FEATURES[j]}: {int(negative[:, j].sum())} row(s) negative")
    if problems:
        raise InputDataError(
            f"{method}() found invalid feature values ({'; '.join(problems)}). Every feature "
            "must be a finite number >= 0; fix or exclude these customers in the feature table "
            "(e.g. recency is measured from an as-of date after the last purchase)."
        )
    return A


def _transform_raw(X: np.ndarray) -> np.ndarray:
    """Apply the per-feature transforms of :data:`TRANSFORMS`."""
    out = X.copy()
    out[:, _LOG1P] = np.log1p(out[:, _LOG1P])
    return out


def _inverse_transform(Xt: np.ndarray) -> np.ndarray:
    """Undo :func:`_transform_raw` (original units)."""
    out = np.array(Xt, dtype=np.float64)
    out[:, _LOG1P] = np.expm1(out[:, _LOG1P])
    return out


def _nearest(Z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Row index of the nearest centroid; ``argmin`` takes the first, i.e. the lowest id."""
    d = np.empty((Z.shape[0], centroids.shape[0]), dtype=np.float64)
    for j, c in enumerate(centroids):
        diff = Z - c
        d[:, j] = np.einsum("ij,ij->i", diff, diff)
    return np.argmin(d, axis=1)


def _polish(Z: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finish K-means with plain-numpy Lloyd steps until the assignment no longer changes.

    scikit-learn's K-means stops within a tolerance and sums with OpenMP threads, so its
    centroids can differ in the last bits with the number of threads. Re-computing each centroid
    as the numpy mean of its members, until every row's nearest centroid is stable, gives
    centroids that depend only on the data (byte-identical model files on any machine with the
    same libraries) and labels that are exactly the nearest-centroid rule used by ``predict``.
    The steps can only lower the inertia.

    Returns
    -------
    centroids : ndarray of shape (k, n_features)
    positions : ndarray of shape (n,)
        Row index of each point's centroid; equals ``_nearest(Z, centroids)``.
    """
    k = centers.shape[0]
    if not np.all(np.isfinite(centers)):
        raise SegmentationError(
            "K-means produced non-finite centroids; check the feature table for extreme values."
        )
    positions = _nearest(Z, centers)
    for _ in range(_MAX_POLISH_STEPS):
        counts = np.bincount(positions, minlength=k)
        if np.any(counts == 0):
            raise SegmentationError(
                f"{int(np.sum(counts == 0))} of the {k} K-means clusters received no customers; "
                f"the data does not support {k} segments. Lower n_segments or provide more "
                "varied data."
            )
        centers = np.vstack([Z[positions == j].mean(axis=0) for j in range(k)])
        new_positions = _nearest(Z, centers)
        if np.array_equal(new_positions, positions):
            break
        positions = new_positions
    return centers, positions


def _profiles(X: np.ndarray, positions: np.ndarray, segment_ids: tuple[int, ...]) -> list[dict]:
    """Count, share, mean and median of each feature per segment, in original units."""
    n = X.shape[0]
    out = []
    for i, sid in enumerate(segment_ids):
        rows = X[positions == i]
        out.append(
            {
                "segment_id": int(sid),
                "segment_name": SEGMENT_NAMES[sid],
                "count": int(rows.shape[0]),
                "share": _f(rows.shape[0] / n),
                "mean": {f: _f(v) for f, v in zip(FEATURES, rows.mean(axis=0), strict=True)},
                "median": {
                    f: _f(v) for f, v in zip(FEATURES, np.median(rows, axis=0), strict=True)
                },
            }
        )
    return out


def _float_matrix(rows: list, n_rows: int) -> np.ndarray:
    """Parse a stored (n_rows, 4) float matrix, refusing wrong shapes and non-finite values."""
    A = np.array(rows, dtype=np.float64)
    if A.shape != (n_rows, len(FEATURES)) or not np.all(np.isfinite(A)):
        raise ValueError(f"expected a finite ({n_rows}, {len(FEATURES)}) matrix, got {A.shape}")
    return A


def _f(v: float) -> float:
    """Plain Python float (JSON type), with -0.0 normalised to 0.0."""
    return float(v) + 0.0
