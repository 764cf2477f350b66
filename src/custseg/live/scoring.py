"""The published model, held in memory for live scoring and reloaded when a run publishes anew.

A run publishes the model file by renaming a complete new file over the old one, so the file
is always whole: either the previous model or the next. :class:`PublishedModel` looks at the
file at most once per ``check_interval`` seconds (a ``stat``, no read) and loads it again when
it changed. A request or a batch of events takes the :class:`LoadedModel` once and scores with
it to the end, so a reload never changes the model under work in flight. A file that fails to
load (edited, from another custseg version) leaves the last good model in place, and the error
is kept for the readiness check to report.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from custseg.catalogue import SEGMENT_NAMES
from custseg.errors import ModelIntegrityError
from custseg.model.model_file import load_model
from custseg.model.segmenter import CustomerSegmenter

#: How often, at most, the model file is looked at for a new publication (seconds).
DEFAULT_CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class LoadedModel:
    """A model file's segmenter and the version a score is reported with."""

    segmenter: CustomerSegmenter
    #: The model file's integrity SHA-256: the ``model_version`` of the history tables.
    version: str
    path: Path
    #: The model's as-of date (``metadata.as_of_date``), when the file records one.
    as_of_date: str | None

    @classmethod
    def from_file(cls, path: Path) -> LoadedModel:
        """Load and check ``path`` (raises :class:`ModelIntegrityError`)."""
        segmenter, document = load_model(path)
        metadata = document.get("metadata") or {}
        return cls(
            segmenter=segmenter,
            version=document["integrity"]["sha256"],
            path=Path(path),
            as_of_date=metadata.get("as_of_date") if isinstance(metadata, dict) else None,
        )

    def segment_ids(self, matrix: np.ndarray) -> np.ndarray:
        """The segment id of every row of ``matrix`` (columns of ``FEATURES``): its nearest
        centroid, exactly as ``custseg run`` assigns it."""
        return self.segmenter.predict(matrix)

    @staticmethod
    def segment_name(segment_id: int) -> str:
        return SEGMENT_NAMES[int(segment_id)]


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


class PublishedModel:
    """The model file at ``path``, loaded now and again whenever a new one is published.

    Raises :class:`ModelIntegrityError` at construction when the file cannot be loaded, so a
    service never starts without a model.
    """

    def __init__(self, path: Path, *, check_interval: float = DEFAULT_CHECK_INTERVAL) -> None:
        self.path = Path(path)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._state = _file_state(self.path)
        self._model = LoadedModel.from_file(self.path)
        self._next_check = time.monotonic() + check_interval
        #: The last reload that failed (the previous model kept serving), or None.
        self.reload_error: str | None = None

    def current(self) -> LoadedModel:
        """The model to score with now (reloaded first if the file changed)."""
        if time.monotonic() >= self._next_check:
            self.refresh()
        return self._model

    def refresh(self) -> bool:
        """Look at the file now; load it if it changed. Returns whether a new model is in use."""
        with self._lock:
            self._next_check = time.monotonic() + self.check_interval
            state = _file_state(self.path)
            if state is None or state == self._state:
                return False
            try:
                model = LoadedModel.from_file(self.path)
            except ModelIntegrityError as exc:
                self.reload_error = str(exc)
                return False
            self._state = state
            self.reload_error = None
            changed = model.version != self._model.version
            self._model = model
            return changed
