"""K-means customer segmenter with named, canonically ordered and checked segments.

:class:`CustomerSegmenter` is a scikit-learn estimator (``BaseEstimator``, ``ClusterMixin``):
``__init__`` only stores parameters, :meth:`~CustomerSegmenter.fit` validates its input, sets
attributes ending in ``_`` and returns ``self``; ``sklearn.base.clone``, ``get_params`` and
``sklearn.base.is_clusterer`` work, bad values raise ``ValueError`` subclasses and an unfitted
model raises ``NotFittedError``. The feature matrix has one row per customer and the columns of
:data:`~custseg.model.features.FEATURES`, in original units.

Inside :meth:`~CustomerSegmenter.fit`:

1. select the clustering columns and transform them (:mod:`custseg.model.features`);
2. standardize: subtract the mean, divide by the population standard deviation (a constant
   column is divided by 1);
3. K-means, started from the naming anchors or from k-means++
   (:mod:`custseg.model.initialisation`) and finished with plain-numpy Lloyd steps until no
   customer changes cluster (:mod:`custseg.model.kernels`), so the centroids do not depend on
   the number of threads and are exactly the means of their members;
4. name the clusters (:func:`custseg.model.naming.name_clusters`), check each name against
   the segment's profile (:func:`custseg.model.name_checks.check_names`, in the customers'
   purchase rhythm when ``fit`` is given their silence) and give a name of the wider
   catalogue to a cluster whose name does not hold
   (:func:`custseg.model.naming.name_from_wider_catalogue`);
5. re-order everything by segment id, so the fitted model does not depend on K-means' arbitrary
   cluster numbering: centroid row ``i`` belongs to segment ``segment_ids_[i]``.

Prediction assigns each row to the nearest centroid (squared Euclidean distance in the scaled
space; ties go to the lowest segment id) in plain numpy, so a model restored from its JSON file
(:mod:`custseg.model.model_file`) predicts exactly like the fitted one.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import NotFittedError

from custseg.catalogue import MAX_SEGMENTS, MIN_SEGMENTS, SEGMENT_NAMES
from custseg.errors import (
    ConfigError,
    InputDataError,
    InsufficientDataError,
    SegmentationError,
)
from custseg.model.features import (
    CLUSTER_COLUMNS,
    CLUSTER_FEATURES,
    FEATURES,
    transform_raw,
    validate_features,
)
from custseg.model.initialisation import INITS, fit_from_anchors, fit_kmeans_plus_plus
from custseg.model.kernels import inertia, nearest
from custseg.model.name_checks import NameCheck, check_names
from custseg.model.naming import name_clusters, name_from_wider_catalogue
from custseg.settings import DEFAULTS, N_INIT

__all__ = ["CustomerSegmenter", "NotFittedSegmenterError"]


class NotFittedSegmenterError(SegmentationError, NotFittedError):
    """The segmenter was used before :meth:`CustomerSegmenter.fit` (or loading a model)."""


class CustomerSegmenter(ClusterMixin, BaseEstimator):
    """Cluster customers with K-means and name the clusters by rule.

    Parameters
    ----------
    n_segments : int, default=5
        Number of segments (K-means clusters), 2..10: the five names of the original guide,
        then the wider catalogue (:mod:`custseg.catalogue`).
    random_state : int, default=42
        Seed of k-means++ (``init="k-means++"``, or the fallback of ``init="anchors"``). With
        the anchors initialisation the fit does not depend on it.
    n_init : int, default=10
        Number of k-means++ initialisations; the one with the lowest inertia is kept. Not used
        by the anchors initialisation (except in its fallback).
    init : {"anchors", "k-means++"}, default="anchors"
        How K-means starts: from the naming anchors (deterministic, stable under resampling)
        or from scikit-learn's randomized k-means++ (see :mod:`custseg.model.initialisation`).

    Attributes
    ----------
    segment_ids_ : tuple of int
        Sorted ids of the segments the model uses (all five when ``n_segments=5``).
    centroids_ : ndarray of shape (n_segments, 3)
        Centroids in the scaled clustering space (the clustering features), row ``i`` for
        segment ``segment_ids_[i]``.
    labels_ : ndarray of shape (n_customers,)
        Segment id of each training row. Only set by :meth:`fit`, not when a model is loaded.
    scaler_mean_, scaler_scale_ : ndarray of shape (3,)
        Mean and scale of the transformed clustering features.
    inertia_ : float
        Sum of squared distances of the training rows to their centroid (scaled space).
    init_used_ : str
        The initialisation that produced the model: ``"anchors"`` or ``"k-means++"``
        (``"k-means++"`` with ``init="anchors"`` means every anchor start emptied a cluster).
    naming_ : NamingResult
        Naming outcome, with clusters in the order of ``segment_ids_``.
    profiles_ : list of dict
        Per segment (order of ``segment_ids_``): ``segment_id``, ``segment_name``, ``count``,
        ``share`` and ``mean`` / ``median`` of each of the four features in original units.
    name_checks_ : tuple of NameCheck
        Per segment (order of ``segment_ids_``): whether its mean profile supports its name.
    n_customers_fit_ : int
        Number of training rows.

    Examples
    --------
    >>> seg = CustomerSegmenter(n_segments=5).fit(X)  # doctest: +SKIP
    >>> seg.predict(X_new)  # doctest: +SKIP
    >>> seg.unsupported_names()  # doctest: +SKIP
    ()
    """

    def __init__(
        self,
        n_segments: int = int(DEFAULTS.k),
        random_state: int = DEFAULTS.random_state,
        n_init: int = N_INIT,
        init: str = "anchors",
    ) -> None:
        self.n_segments = n_segments
        self.random_state = random_state
        self.n_init = n_init
        self.init = init

    def fit(
        self, X: np.ndarray, y: None = None, silence_gaps: np.ndarray | None = None
    ) -> CustomerSegmenter:
        """Fit K-means on the customers' features, name the segments and check the names.

        With ``init="anchors"`` (the default) the result depends only on ``X`` and
        ``n_segments``, not on ``random_state`` (unless the k-means++ fallback is needed, see
        :attr:`init_used_`).

        Parameters
        ----------
        X : array-like of shape (n_customers, 4)
            Features in the order of ``FEATURES``, original units, finite and >= 0.
        y : None
            Ignored; present for scikit-learn compatibility.
        silence_gaps : array-like of shape (n_customers,), optional
            Each customer's days since the last purchase in their usual gaps between purchases
            (:func:`custseg.model.rhythm.silence_in_gaps`; ``custseg run`` measures it from
            ``customer_features``). The segments' medians of it decide the names' rhythm
            clauses; without it those clauses of the five original names are not checked and
            the wider catalogue's names cannot hold.

        Returns
        -------
        CustomerSegmenter
            The fitted estimator.

        Raises
        ------
        ConfigError
            If a parameter is invalid (e.g. ``n_segments`` outside 2..10); a ValueError.
        InputDataError
            If ``X`` has the wrong shape or contains NaN, infinite or negative values.
        InsufficientDataError
            If there are fewer customers, or fewer distinct clustering profiles, than segments.
        SegmentationError
            If K-means leaves a cluster without customers.
        """
        k, n_init, random_state, init = self._checked_params()
        X = validate_features(X, "fit")
        silence = _checked_silence(silence_gaps, X.shape[0])
        n = X.shape[0]
        if n < k:
            raise InsufficientDataError(
                f"Cannot form {k} segments from {n} customer(s): K-means needs at least as many "
                f"customers as segments (n_segments={k}). Provide more customers or lower "
                f"n_segments (minimum {MIN_SEGMENTS})."
            )
        if not has_distinct_rows(X[:, CLUSTER_COLUMNS], k):
            n_distinct = np.unique(X[:, CLUSTER_COLUMNS], axis=0).shape[0]
            raise InsufficientDataError(
                f"Cannot form {k} segments: the {n} customers have only {n_distinct} distinct "
                f"profile(s) of {', '.join(CLUSTER_FEATURES)}, and every segment needs a "
                f"different one (n_segments={k}). Lower n_segments (minimum {MIN_SEGMENTS}) or "
                "check that the feature table is not degenerate (e.g. every customer with the "
                "same values)."
            )

        Xt = transform_raw(X)
        mean = Xt.mean(axis=0)
        scale = Xt.std(axis=0)
        # A constant column carries no information; dividing by 1 keeps it at zero.
        scale[np.ptp(Xt, axis=0) == 0] = 1.0
        Z = (Xt - mean) / scale

        solution = fit_from_anchors(Z, k) if init == "anchors" else None
        init_used = "anchors"
        if solution is None:
            solution = fit_kmeans_plus_plus(Z, k, n_init, random_state)
            init_used = "k-means++"
        centers, positions = solution

        naming = name_clusters(centers)
        by_cluster = segment_profiles(X, positions, naming.segment_id_of_cluster, silence)
        naming = name_from_wider_catalogue(centers, naming, by_cluster)
        order = np.argsort(np.array(naming.segment_id_of_cluster), kind="stable")
        segment_ids = tuple(int(naming.segment_id_of_cluster[i]) for i in order)
        centroids = centers[order].copy()
        positions = np.argsort(order)[positions]  # K-means cluster index -> row of centroids
        profiles = segment_profiles(X, positions, segment_ids, silence)

        # Set fitted attributes only once everything has succeeded.
        self.segment_ids_ = segment_ids
        self.centroids_ = centroids
        self.scaler_mean_ = mean
        self.scaler_scale_ = scale
        self.naming_ = naming.reordered(order)
        self.labels_ = np.array(segment_ids, dtype=np.int64)[positions]
        self.inertia_ = inertia(Z, centroids, positions)
        self.init_used_ = init_used
        self.n_customers_fit_ = int(n)
        self.profiles_ = profiles
        self.name_checks_ = check_names(profiles)
        return self

    def scale(self, X: np.ndarray) -> np.ndarray:
        """Map features to the scaled clustering space the centroids live in.

        (Not ``transform``: scikit-learn's ``KMeans.transform`` returns distances to the
        centres.)

        Parameters
        ----------
        X : array-like of shape (n_customers, 4)
            Features in the order of ``FEATURES``, original units.

        Returns
        -------
        ndarray of shape (n_customers, 3)
            ``(transform_raw(X) - scaler_mean_) / scaler_scale_``.
        """
        self._check_fitted("scale")
        X = validate_features(X, "scale")
        return (transform_raw(X) - self.scaler_mean_) / self.scaler_scale_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return the segment id of each row (nearest centroid, ties to the lowest id).

        Parameters
        ----------
        X : array-like of shape (n_customers, 4)
            Features in the order of ``FEATURES``, original units.

        Returns
        -------
        ndarray of int64, shape (n_customers,)
            Segment ids (keys of :data:`custseg.catalogue.SEGMENT_NAMES`).
        """
        Z = self.scale(X)
        ids = np.array(self.segment_ids_, dtype=np.int64)
        return ids[nearest(Z, self.centroids_)]

    def inertia(self, X: np.ndarray) -> float:
        """Sum of squared distances of every row of ``X`` to its nearest centroid (scaled space).

        ``inertia_`` is this over the rows the model was fitted on; a model fitted on a sample
        is measured on every customer with this.
        """
        Z = self.scale(X)
        return inertia(Z, self.centroids_, nearest(Z, self.centroids_))

    def segment_names(self, segment_ids: np.ndarray) -> list[str]:
        """Translate segment ids (e.g. the output of :meth:`predict`) into names."""
        return [SEGMENT_NAMES[int(s)] for s in np.asarray(segment_ids).ravel()]

    def unsupported_names(self) -> tuple[NameCheck, ...]:
        """Return the name checks that failed: segments whose profile does not fit their name.

        Returns
        -------
        tuple of NameCheck
            In the order of ``segment_ids_``; empty when every name is supported.
        """
        self._check_fitted("unsupported_names")
        return tuple(check for check in self.name_checks_ if not check.passed)

    # ------------------------------------------------------------------ helpers

    def _checked_params(self) -> tuple[int, int, int, str]:
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
        if self.init not in INITS:
            raise ConfigError(
                f"init must be one of {', '.join(repr(i) for i in INITS)}; got {self.init!r}. "
                "Use 'anchors' (deterministic, the default) or 'k-means++'."
            )
        return int(k), int(n_init), int(rs), str(self.init)

    def _check_fitted(self, method: str) -> None:
        """Raise NotFittedSegmenterError if the model has neither been fitted nor loaded."""
        if not hasattr(self, "centroids_"):
            raise NotFittedSegmenterError(
                f"This CustomerSegmenter is not fitted yet, so {method}() cannot run. Call fit(X) "
                "first or load a saved model."
            )


def segment_profiles(
    X: np.ndarray,
    positions: np.ndarray,
    segment_ids: tuple[int, ...],
    silence: np.ndarray | None = None,
) -> list[dict]:
    """Count, share, mean and median of each feature per segment, in original units.

    ``positions`` gives each row's segment as an index into ``segment_ids``. With ``silence``
    (each row's silence in usual gaps) every profile also has ``median_silence_gaps``.
    """
    n = X.shape[0]
    out = []
    for i, sid in enumerate(segment_ids):
        members = positions == i
        rows = X[members]
        profile = {
            "segment_id": int(sid),
            "segment_name": SEGMENT_NAMES[sid],
            "count": int(rows.shape[0]),
            "share": plain_float(rows.shape[0] / n),
            "mean": {f: plain_float(v) for f, v in zip(FEATURES, rows.mean(axis=0), strict=True)},
            "median": {
                f: plain_float(v) for f, v in zip(FEATURES, np.median(rows, axis=0), strict=True)
            },
        }
        if silence is not None:
            profile["median_silence_gaps"] = plain_float(np.median(silence[members]))
        out.append(profile)
    return out


def has_distinct_rows(rows: np.ndarray, at_least: int) -> bool:
    """Whether ``rows`` holds ``at_least`` different rows.

    The first rows usually decide it; only data with few distinct rows among them pays for the
    sort of every row (``np.unique(axis=0)``, a third of a second per 200,000 customers).
    """
    head = 1000
    if np.unique(rows[:head], axis=0).shape[0] >= at_least:
        return True
    return rows.shape[0] > head and np.unique(rows, axis=0).shape[0] >= at_least


def _checked_silence(silence_gaps: np.ndarray | None, n_rows: int) -> np.ndarray | None:
    """``silence_gaps`` as a float64 vector of ``n_rows`` finite values >= 0, or raise."""
    if silence_gaps is None:
        return None
    silence = np.asarray(silence_gaps, dtype=np.float64)
    if silence.shape != (n_rows,):
        raise InputDataError(
            f"fit() needs one silence value per customer: {n_rows} rows of features but "
            f"silence_gaps of shape {silence.shape}."
        )
    bad = ~np.isfinite(silence) | (silence < 0)
    if bad.any():
        raise InputDataError(
            f"fit() found {int(bad.sum())} silence value(s) that are NaN, infinite or negative; "
            "measure them with custseg.model.rhythm.silence_in_gaps."
        )
    return silence


def plain_float(v: float) -> float:
    """Plain Python float (JSON type), with -0.0 normalised to 0.0."""
    return float(v) + 0.0
