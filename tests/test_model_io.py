"""JSON model artifacts: atomic canonical writes, integrity checks, fingerprints."""

import json

import numpy as np
import pytest

import custseg
from custseg.errors import ModelIntegrityError
from custseg.model.model_file import (
    fingerprint_features,
    library_versions,
    load_model,
    model_document,
)
from custseg.model.segmenter import CustomerSegmenter
from custseg.publish.atomic import write_json_atomic
from tests.support import resealed_model


def save_model(path, segmenter, *, metadata):
    """Write a model file as a run does, and return its document."""
    document = model_document(segmenter, metadata=metadata)
    write_json_atomic(path, document)
    return document


X = np.array(
    [
        [5, 40, 8000, 200],
        [3, 45, 9000, 200],
        [7, 38, 7600, 200],
        [10, 20, 600, 30],
        [12, 22, 660, 30],
        [8, 18, 540, 30],
        [60, 2, 3000, 1500],
        [70, 3, 4500, 1500],
        [300, 15, 1500, 100],
        [320, 12, 1200, 100],
        [150, 1, 20, 20],
        [170, 1, 25, 25],
    ],
    dtype=np.float64,
)
IDS = [f"C{i:03d}" for i in range(len(X))]
METADATA = {"as_of_date": "2020-01-01", "input_fingerprint": "abc", "config": {"k": 5}}


def _save(path, seg=None):
    seg = seg or CustomerSegmenter().fit(X)
    return save_model(path, seg, metadata=METADATA)


def _rewrite(path, mutate):
    """Load the JSON, mutate it, re-seal it with a valid checksum, write it back."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    mutate(doc)
    write_json_atomic(path, resealed_model(doc))


def test_write_json_atomic_is_canonical_and_byte_identical(tmp_path):
    payload = {"b": [1, 2.5], "a": "é", "c": {"z": None, "y": True}}
    write_json_atomic(tmp_path / "x.json", payload)
    first = (tmp_path / "x.json").read_bytes()
    write_json_atomic(tmp_path / "x.json", dict(reversed(payload.items())))
    assert (tmp_path / "x.json").read_bytes() == first
    assert (
        first
        == (
            '{\n  "a": "é",\n  "b": [\n    1,\n    2.5\n  ],\n  "c": {\n    "y": true,\n'
            '    "z": null\n  }\n}\n'
        ).encode()
    )
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def test_save_load_round_trip(tmp_path):
    seg = CustomerSegmenter().fit(X)
    doc = save_model(tmp_path / "model.json", seg, metadata=METADATA)
    assert doc["format"] == "custseg.segment_model" and doc["format_version"] == 1
    assert doc["custseg_version"] == custseg.__version__
    assert len(doc["integrity"]["sha256"]) == 64
    loaded, loaded_doc = load_model(tmp_path / "model.json")
    assert loaded_doc == doc
    assert loaded_doc["metadata"] == METADATA
    assert loaded.predict(X).tolist() == seg.labels_.tolist()
    assert np.array_equal(loaded.centroids_, seg.centroids_)


def test_two_fits_give_byte_identical_files(tmp_path):
    _save(tmp_path / "a.json")
    _save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_tampered_digit_is_refused(tmp_path):
    path = tmp_path / "model.json"
    _save(path)
    text = path.read_text(encoding="utf-8")
    marker = '"inertia": '
    i = text.index(marker) + len(marker)
    digit = text[i]
    path.write_text(text[:i] + str((int(digit) + 1) % 10) + text[i + 1 :], encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="modified after it was written") as err:
        load_model(path)
    assert str(path) in str(err.value)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "model.json"
    _save(path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ModelIntegrityError, match="not valid JSON.*truncated"):
        load_model(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ModelIntegrityError, match="does not exist"):
        load_model(tmp_path / "nope.json")


def test_wrong_format_is_refused(tmp_path):
    path = tmp_path / "model.json"
    write_json_atomic(path, {"format": "something.else"})
    with pytest.raises(ModelIntegrityError, match="not a custseg segment model"):
        load_model(path)


def test_unknown_format_version_is_refused(tmp_path):
    path = tmp_path / "model.json"
    _save(path)
    _rewrite(path, lambda d: d.update(format_version=2))
    with pytest.raises(ModelIntegrityError, match="format_version 2"):
        load_model(path)


def test_other_custseg_version_is_refused(tmp_path):
    path = tmp_path / "model.json"
    _save(path)
    _rewrite(path, lambda d: d.update(custseg_version="0.2.0"))
    with pytest.raises(ModelIntegrityError, match="written by custseg 0.2.0"):
        load_model(path)


def test_patch_version_difference_is_accepted(tmp_path):
    path = tmp_path / "model.json"
    _save(path)
    major, minor, *_ = custseg.__version__.split(".")
    _rewrite(path, lambda d: d.update(custseg_version=f"{major}.{minor}.99"))
    seg, _ = load_model(path)
    assert seg.predict(X).tolist() == CustomerSegmenter().fit(X).labels_.tolist()


def test_model_of_the_former_4_dimensional_space_is_refused(tmp_path):
    path = tmp_path / "model.json"
    _save(path)

    def make_old(doc):
        # What custseg wrote when revenue was still a clustering dimension.
        model = doc["model"]
        del model["cluster_features"]
        model["transforms"] = {
            "recency_days": "identity",
            "count_orders": "log1p",
            "lifetime_revenue": "log1p",
            "avg_order_value": "log1p",
        }
        for segment in model["segments"]:
            segment["centroid_scaled"].append(0.0)

    _rewrite(path, make_old)
    with pytest.raises(ModelIntegrityError, match="lifetime revenue is no longer") as err:
        load_model(path)
    assert str(path) in str(err.value) and "Retrain" in str(err.value)


def test_model_records_the_initialisation(tmp_path):
    doc = _save(tmp_path / "model.json")
    assert doc["model"]["params"]["init"] == "anchors"
    assert doc["model"]["init_used"] == "anchors"
    assert [c["passed"] for c in doc["model"]["name_checks"]] == [True] * 5


def test_library_versions():
    versions = library_versions()
    assert list(versions) == ["numpy", "scipy", "scikit-learn", "duckdb", "dbt-core"]
    assert versions["numpy"] == np.__version__
    assert all(isinstance(v, str) and v for v in versions.values())


def test_fingerprint():
    fp = fingerprint_features(IDS, X)
    assert len(fp) == 64 and fp == fingerprint_features(list(IDS), X.copy())
    changed = X.copy()
    changed[3, 2] += 0.01
    assert fingerprint_features(IDS, changed) != fp
    assert fingerprint_features(["C000", "C00"] + IDS[2:], X) != fp
    assert fingerprint_features(IDS[::-1], X[::-1]) != fp  # row order is part of the input
    with pytest.raises(ValueError, match="one customer id per row"):
        fingerprint_features(IDS[:-1], X)
