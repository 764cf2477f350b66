"""The model file: a segment model as canonical, integrity-checked JSON (never pickle).

A model file is one JSON document::

    {
      "format": "custseg.segment_model",
      "format_version": 1,
      "custseg_version": "0.1.0",
      "model": {...},          # segmenter_dict.segmenter_to_dict(segmenter)
      "metadata": {...},       # supplied by the caller: input fingerprint, as_of_date, config,
                               # library versions, ...
      "drift_reference": {...},  # drift_reference.DriftReference.to_dict(): bins and shares of
                                 # the training customers (absent in files written before it)
      "integrity": {"sha256": "..."}
    }

``integrity.sha256`` is the SHA-256 of the canonical JSON (see :func:`canonical_json`) of the
document without the ``integrity`` key. Because the JSON is canonical (sorted keys, fixed
indentation), the same model and metadata always produce the same bytes, and any edit to the file
is detected by :func:`load_model`. :func:`model_document` builds the document; the publish stage
writes it (atomically, with the other outputs of a run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from custseg.errors import ModelIntegrityError
from custseg.model.drift_reference import DRIFT_REFERENCE_KEY, DriftReference
from custseg.model.segmenter import CustomerSegmenter
from custseg.model.segmenter_dict import segmenter_from_dict, segmenter_to_dict
from custseg.version import __version__

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "canonical_json",
    "fingerprint_features",
    "library_versions",
    "load_model",
    "model_document",
]

FORMAT = "custseg.segment_model"
FORMAT_VERSION = 1
#: Format versions this code can read.
SUPPORTED_FORMAT_VERSIONS: frozenset[int] = frozenset({1})

# Distribution names as pip knows them (the import name differs for scikit-learn and dbt-core).
_LIBRARIES: tuple[str, ...] = ("numpy", "scipy", "scikit-learn", "duckdb", "dbt-core")
_FINGERPRINT_HEADER = b"custseg.features.v1\n"


def canonical_json(payload: dict) -> str:
    """Serialize ``payload`` canonically: sorted keys, 2-space indent, UTF-8, final newline.

    Parameters
    ----------
    payload : dict
        JSON types only (dict, list, str, int, float, bool, None); NaN and infinity are refused.

    Returns
    -------
    str
        The JSON text, ending with ``"\\n"``.

    Raises
    ------
    TypeError, ValueError
        If ``payload`` holds a non-JSON type or a non-finite float (a programming error).
    """
    return json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def model_document(
    segmenter: CustomerSegmenter,
    *,
    metadata: dict,
    drift_reference: DriftReference | None = None,
) -> dict:
    """The model file's document: a fitted segmenter, its metadata, the training data's drift
    reference and an integrity hash.

    Parameters
    ----------
    segmenter : CustomerSegmenter
        A fitted segmenter.
    metadata : dict
        JSON-ready facts about the run: input fingerprint (:func:`fingerprint_features`),
        as-of date, configuration, :func:`library_versions`, ... Avoid timestamps of "now" if
        byte-identical files for identical runs are wanted.

    Returns
    -------
    dict
        The document, ``integrity`` included; write it with :func:`canonical_json`.
    """
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "custseg_version": __version__,
        "model": segmenter_to_dict(segmenter),
        "metadata": metadata,
    }
    if drift_reference is not None:
        document[DRIFT_REFERENCE_KEY] = drift_reference.to_dict()
    document["integrity"] = {"sha256": _document_sha256(document)}
    return document


def load_model(path: Path) -> tuple[CustomerSegmenter, dict]:
    """Load a model file (a :func:`model_document` written as canonical JSON), refusing anything
    suspicious.

    Parameters
    ----------
    path : Path
        Model file.

    Returns
    -------
    segmenter : CustomerSegmenter
        The fitted segmenter (predicts exactly like the one saved).
    document : dict
        The whole document (``metadata`` included).

    Raises
    ------
    ModelIntegrityError
        If the file is missing or unreadable, is not valid JSON (e.g. truncated), is not a
        custseg segment model, has an unknown ``format_version``, was written by a custseg
        with another major.minor version, or its SHA-256 does not match (it was modified after
        it was written).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ModelIntegrityError(
            f"Model file {path} does not exist. Train a model first or check the path."
        ) from None
    except OSError as exc:
        raise ModelIntegrityError(
            f"Model file {path} cannot be read ({exc.strerror}). Check its permissions."
        ) from exc
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(
            f"Model file {path} is not valid JSON ({exc}); it is probably truncated or "
            "corrupted. Retrain the model or restore the file from a backup."
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ModelIntegrityError(
            f"File {path} is not a custseg segment model (format {found!r}, expected "
            f"{FORMAT!r}). Point custseg at a model file it wrote."
        )
    version = document.get("format_version")
    if isinstance(version, bool) or version not in SUPPORTED_FORMAT_VERSIONS:
        raise ModelIntegrityError(
            f"Model file {path} has format_version {version!r}, but this custseg "
            f"({__version__}) reads only version(s) "
            f"{', '.join(map(str, sorted(SUPPORTED_FORMAT_VERSIONS)))}. Retrain the model with "
            "this version of custseg."
        )
    integrity = document.get("integrity")
    stored = integrity.get("sha256") if isinstance(integrity, dict) else None
    if not isinstance(stored, str):
        raise ModelIntegrityError(
            f"Model file {path} has no integrity.sha256 checksum, so it cannot be trusted. "
            "Retrain the model."
        )
    body = {key: value for key, value in document.items() if key != "integrity"}
    try:
        actual = _document_sha256(body)
    except (TypeError, ValueError) as exc:  # e.g. NaN in an edited file
        raise ModelIntegrityError(
            f"Model file {path} holds values that are not canonical JSON ({exc}). Retrain the "
            "model."
        ) from exc
    if actual != stored:
        raise ModelIntegrityError(
            f"Model file {path} failed its integrity check (sha256 {actual} does not match the "
            f"stored {stored}): the file was modified after it was written. Retrain the model "
            "or restore the original file."
        )
    written_by = document.get("custseg_version")
    if _major_minor(written_by) != _major_minor(__version__):
        raise ModelIntegrityError(
            f"Model file {path} was written by custseg {written_by}, but this is custseg "
            f"{__version__}; models are only read by the same major.minor version. "
            "Retrain the model with this version."
        )
    try:
        model = document["model"]
        segmenter = segmenter_from_dict(model)
    except ModelIntegrityError as exc:
        raise ModelIntegrityError(f"Model file {path}: {exc}") from exc
    except (KeyError, AttributeError) as exc:
        raise ModelIntegrityError(
            f"Model file {path} has no usable 'model' section ({exc}). Retrain the model."
        ) from exc
    return segmenter, document


def library_versions() -> dict[str, str]:
    """Return the installed versions of the libraries a model's result depends on.

    Returns
    -------
    dict of str to str
        Distribution name (``numpy``, ``scipy``, ``scikit-learn``, ``duckdb``, ``dbt-core``) to
        version, or ``"not installed"``.
    """
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def fingerprint_features(customer_ids: Sequence[str], X: np.ndarray) -> str:
    """Fingerprint the model input: SHA-256 over customer ids and feature values.

    The byte form is a fixed header, the row and column counts, then per row the UTF-8 id
    (length-prefixed, so ids cannot run into each other) and the row's values as little-endian
    float64 (``-0.0`` written as ``0.0``). Row order matters, as it can matter to K-means: sort
    the rows (e.g. by customer id) before fitting and fingerprinting.

    Parameters
    ----------
    customer_ids : sequence of str
        One id per row of ``X``; non-strings are converted with ``str()``.
    X : array-like of shape (n_customers, n_features)
        Feature matrix, converted to float64.

    Returns
    -------
    str
        Hex SHA-256 digest.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or the number of ids differs from the number of rows.
    """
    A = np.ascontiguousarray(np.asarray(X, dtype=np.float64) + 0.0, dtype="<f8")
    ids = list(customer_ids)
    if A.ndim != 2 or A.shape[0] != len(ids):
        raise ValueError(
            f"fingerprint_features needs one customer id per row of a 2-D matrix; got "
            f"{len(ids)} ids and a matrix of shape {A.shape}."
        )
    h = hashlib.sha256(_FINGERPRINT_HEADER)
    h.update(f"{A.shape[0]} {A.shape[1]}\n".encode("ascii"))
    for cid, row in zip(ids, A, strict=True):
        encoded = str(cid).encode("utf-8")
        h.update(len(encoded).to_bytes(8, "little"))
        h.update(encoded)
        h.update(row.tobytes())
    return h.hexdigest()


def _document_sha256(document: dict) -> str:
    """SHA-256 of the canonical JSON of ``document`` (which must not contain ``integrity``)."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def _major_minor(version: object) -> tuple[str, str] | None:
    """``"1.2.3"`` -> ``("1", "2")``; anything unparsable -> None."""
    if not isinstance(version, str):
        return None
    parts = version.split(".")
    return (parts[0], parts[1]) if len(parts) >= 2 else None


def load_previous_model(
    path: Path, dataset: str
) -> tuple[CustomerSegmenter | None, list[str], list[str]]:
    """The published model of ``dataset``, warnings and notes; None on a first run of
    ``dataset`` or when the file is refused.

    A file that is damaged, edited or from an incompatible custseg version is never half-loaded:
    it is refused with a warning, ids then come from the naming rules alone, and the run replaces
    it with the new model. A model of another dataset is not compared with (its segments say
    nothing about this data): a note says so. A model that records no dataset (written before
    datasets were recorded) is taken as this dataset's, so an upgrade keeps the ids.
    """
    if not path.exists():
        return None, [], []
    try:
        segmenter, document = load_model(path)
    except ModelIntegrityError as error:
        return (
            None,
            [
                f"the published model cannot be used to keep segment ids ({error}); "
                "ids come from the naming rules alone"
            ],
            [],
        )
    previous_dataset = document.get("metadata", {}).get("dataset")
    if previous_dataset is not None and previous_dataset != dataset:
        return (
            None,
            [],
            [
                f"first run of dataset {dataset}: the published model is of dataset "
                f"{previous_dataset}, so segment ids come from the naming rules and are not "
                "compared with it"
            ],
        )
    return segmenter, [], []
