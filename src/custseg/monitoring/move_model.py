"""The fitted move model as JSON types: its probabilities and the drivers of a move.

A multinomial logistic regression over the *terms* of a customer at one as-of date:

- ``z_f = (log1p(x_f) - mean_f) / scale_f`` for each feature ``f`` of :data:`MOVE_FEATURES`
  (``mean`` and ``scale`` measured on the training rows; a constant feature has scale 1);
- ``current_segment_<s> = 1`` if the customer is in segment ``s`` now, else 0 (one term per
  segment seen in training; a segment unseen in training has all of them 0).

The logit of next state ``k`` is ``eta_k = b_k + sum_t w_{k,t} term_t`` and its probability the
softmax ``p_k = exp(eta_k) / sum_k' exp(eta_k')``. Every step is plain arithmetic, ``ln`` and
``exp``, so the dict of :meth:`MoveModel.to_dict` can be published as a seed and scored in SQL.

With two classes scikit-learn fits one logit ``eta`` for the second class; the model stores it
split evenly as ``-eta / 2`` and ``+eta / 2``, whose softmax is the same sigmoid.

The **drivers** of a move into class ``k`` are the terms with the largest positive contribution
``w_{k,t} term_t`` to ``eta_k``: what pushes this customer towards ``k`` more than an average
customer of no segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from custseg.catalogue import SEGMENT_NAMES
from custseg.errors import InputDataError, ModelIntegrityError
from custseg.monitoring.transitions import STATE_NAMES

#: The customer features the model reads, in original units, in this column order.
MOVE_FEATURES: tuple[str, ...] = ("recency_days", "count_orders", "avg_order_value")
_KIND = "custseg.MoveModel"


def segment_term(segment_id: int) -> str:
    """The name of the one-hot term of a current segment: ``current_segment_<id>``."""
    return f"current_segment_{segment_id}"


def state_name(state: int) -> str:
    """The name of a segment id or of the new and left states."""
    if state in STATE_NAMES:
        return STATE_NAMES[state]
    return SEGMENT_NAMES.get(state, f"Segment {state}")


def validate_move_features(features: object) -> np.ndarray:
    """Return ``features`` as a float64 (n, 3) array of finite non-negative values.

    Raises
    ------
    InputDataError
        Naming the row (from 0) and the column of the first bad value.
    """
    try:
        values = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"move features must be numbers in columns {', '.join(MOVE_FEATURES)} ({exc})."
        ) from exc
    if values.ndim != 2 or values.shape[1] != len(MOVE_FEATURES):
        raise InputDataError(
            f"move features need {len(MOVE_FEATURES)} columns ({', '.join(MOVE_FEATURES)}); "
            f"got shape {values.shape}."
        )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise InputDataError(
            f"move features: row {row}, column {MOVE_FEATURES[col]} is {values[row, col]}; "
            "the features are non-negative numbers (fill missing ones upstream)."
        )
    return values


def design_matrix(
    features: np.ndarray,
    current_segment: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    segments: Sequence[int],
) -> np.ndarray:
    """The terms of each row: standardized ``log1p`` features, then the one-hot segments."""
    standardized = (np.log1p(validate_move_features(features)) - mean) / scale
    current = np.asarray(current_segment, dtype=np.int64)
    one_hot = (current[:, None] == np.asarray(segments, dtype=np.int64)[None, :]).astype(float)
    return np.hstack([standardized, one_hot])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by each row's maximum so that no ``exp`` overflows."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class MoveModel:
    """A fitted move model: everything needed to score a customer, in plain numbers."""

    #: Next states the model predicts, ascending (segment ids, LEFT_STATE if it was seen).
    classes: tuple[int, ...]
    #: Current segments with a one-hot term, ascending.
    segments: tuple[int, ...]
    #: Mean of ``log1p`` of each feature over the training rows.
    scaler_mean: np.ndarray
    #: Standard deviation of the same (1 where a feature was constant).
    scaler_scale: np.ndarray
    #: ``w[k, t]``: one row per class, one column per term.
    coefficients: np.ndarray
    #: ``b[k]``: one per class.
    intercepts: np.ndarray

    @property
    def terms(self) -> tuple[str, ...]:
        """Term names, in column order: the features, then ``current_segment_<id>``."""
        return (*MOVE_FEATURES, *(segment_term(s) for s in self.segments))

    def design_matrix(self, features: np.ndarray, current_segment: np.ndarray) -> np.ndarray:
        """The model's terms for customers with these features and current segments."""
        return design_matrix(
            features, current_segment, self.scaler_mean, self.scaler_scale, self.segments
        )

    def predict_proba(self, features: np.ndarray, current_segment: np.ndarray) -> np.ndarray:
        """Probability of each next state (columns in :attr:`classes` order)."""
        terms = self.design_matrix(features, current_segment)
        return softmax(terms @ self.coefficients.T + self.intercepts)

    def drivers(
        self,
        features: np.ndarray,
        current_segment: np.ndarray,
        target: int,
        top: int = 3,
    ) -> list[tuple[tuple[str, float], ...]]:
        """Per customer, up to ``top`` terms pushing it towards ``target``, strongest first.

        A term's contribution is ``w_{target,t} term_t``; only positive ones count. Ties keep
        the term order.
        """
        if target not in self.classes:
            raise ValueError(f"the model never saw next state {target}; classes {self.classes}")
        weights = self.coefficients[self.classes.index(target)]
        contributions = self.design_matrix(features, current_segment) * weights
        names = self.terms
        found = []
        for row in contributions:
            order = np.argsort(-row, kind="stable")[:top]
            found.append(tuple((names[t], float(row[t])) for t in order if row[t] > 0))
        return found

    def to_dict(self) -> dict:
        """The model as JSON types (floats exact: ``json`` writes the shortest round-trip repr)."""
        terms = self.terms
        return {
            "kind": _KIND,
            "features": list(MOVE_FEATURES),
            "transform": "log1p",
            "scaler": {
                "mean": [float(v) for v in self.scaler_mean],
                "scale": [float(v) for v in self.scaler_scale],
            },
            "current_segments": list(self.segments),
            "terms": list(terms),
            "classes": [
                {
                    "next_state": state,
                    "next_state_name": state_name(state),
                    "intercept": float(self.intercepts[k]),
                    "coefficients": {
                        term: float(w) for term, w in zip(terms, self.coefficients[k], strict=True)
                    },
                }
                for k, state in enumerate(self.classes)
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> MoveModel:
        """Rebuild the model of :meth:`to_dict`.

        Raises
        ------
        ModelIntegrityError
            When the dict is not a move model or its parts disagree.
        """
        try:
            if data["kind"] != _KIND or tuple(data["features"]) != MOVE_FEATURES:
                raise ValueError(f"kind {data['kind']!r}, features {data['features']}")
            segments = tuple(int(s) for s in data["current_segments"])
            model = cls(
                classes=tuple(int(c["next_state"]) for c in data["classes"]),
                segments=segments,
                scaler_mean=np.array(data["scaler"]["mean"], dtype=np.float64),
                scaler_scale=np.array(data["scaler"]["scale"], dtype=np.float64),
                coefficients=np.array(
                    [[c["coefficients"][t] for t in data["terms"]] for c in data["classes"]],
                    dtype=np.float64,
                ),
                intercepts=np.array([c["intercept"] for c in data["classes"]], dtype=np.float64),
            )
            if tuple(data["terms"]) != model.terms or len(model.scaler_mean) != len(MOVE_FEATURES):
                raise ValueError(f"terms {data['terms']} do not match the segments and features")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(
                f"not a custseg move model dict ({exc}); write it with MoveModel.to_dict."
            ) from exc
        return model

    @classmethod
    def from_estimator(
        cls,
        estimator: object,
        segments: Sequence[int],
        scaler_mean: np.ndarray,
        scaler_scale: np.ndarray,
    ) -> MoveModel:
        """Read a fitted scikit-learn ``LogisticRegression`` (binary or multinomial)."""
        coefficients = np.asarray(estimator.coef_, dtype=np.float64)
        intercepts = np.asarray(estimator.intercept_, dtype=np.float64)
        if coefficients.shape[0] == 1:
            coefficients = np.vstack([-coefficients / 2, coefficients / 2])
            intercepts = np.array([-intercepts[0] / 2, intercepts[0] / 2])
        return cls(
            classes=tuple(int(c) for c in estimator.classes_),
            segments=tuple(int(s) for s in segments),
            scaler_mean=np.asarray(scaler_mean, dtype=np.float64),
            scaler_scale=np.asarray(scaler_scale, dtype=np.float64),
            coefficients=coefficients,
            intercepts=intercepts,
        )


def predict_proba_from_dict(
    data: dict, features: np.ndarray, current_segment: np.ndarray
) -> np.ndarray:
    """Probabilities of each next state from a model dict (:meth:`MoveModel.to_dict`)."""
    return MoveModel.from_dict(data).predict_proba(features, current_segment)
