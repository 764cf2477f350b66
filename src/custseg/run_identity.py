"""Which dataset a run reads and which run wrote an output: the run id and the dataset name.

A project may segment several datasets in turn (the sample, then the real exports; one shop,
then another). Their histories must not mix: a model is compared with the previous one only
when both are of the same dataset, and the report shows the evidence for k only when it was
computed on the very data of the published model.

- The **dataset** is a name. It is the ``dataset`` setting when given (``--dataset``,
  ``CUSTSEG_DATASET``, ``dataset`` in ``[run]``); else it is derived from where the data comes
  from, never from its content, which changes with every refresh: the data folder's name and a
  short hash of its location (relative to the project when inside it, so a cloned or moved
  project keeps its datasets) and of the ``[inputs]`` mapping.
- The **run id** is unique per run: the UTC time the run started and six random hex digits
  (``20260101T120000Z-3fa9c1``). It is recorded in the model, metrics, k selection and report,
  never in the published seeds or the segments CSV, which stay byte-identical for the same
  input and settings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from custseg.ingest.mapping import InputSpec, specs_for_every_input
from custseg.settings import Settings

#: The dataset named when there is neither a setting nor a data folder to derive it from.
UNKNOWN_DATASET = "unknown"


@dataclass(frozen=True)
class RunIdentity:
    """Which run this is and which dataset it reads."""

    run_id: str
    dataset: str

    def to_dict(self) -> dict[str, str]:
        """The fields every output of the run records."""
        return {"run_id": self.run_id, "dataset": self.dataset}


def new_run_id(now: dt.datetime | None = None) -> str:
    """A run id unique per run: the UTC start time and six random hex digits."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_identity(
    settings: Settings, inputs: Sequence[InputSpec] = (), fallback: str | None = None
) -> RunIdentity:
    """A new run id and the dataset of ``settings``.

    The dataset is ``settings.dataset``, else derived from the data folder and ``inputs``
    (:func:`default_dataset`), else ``fallback`` (``custseg evaluate`` on the warehouse's
    features passes the published model's dataset), else :data:`UNKNOWN_DATASET`.
    """
    if settings.dataset is not None:
        dataset = settings.dataset
    elif settings.data_dir is not None:
        dataset = default_dataset(settings.data_dir, inputs, settings.layout.root)
    else:
        dataset = fallback or UNKNOWN_DATASET
    return RunIdentity(run_id=new_run_id(), dataset=dataset)


def default_dataset(data_dir: Path, inputs: Sequence[InputSpec], project_root: Path) -> str:
    """The dataset of a run that names none: ``<folder name>-<8 hex digits>``.

    The hash covers the folder's location (relative to ``project_root`` when inside it) and
    the input mapping, so two folders, or one folder read through two mappings, are two
    datasets, while a refresh of the same files stays one.
    """
    data_dir = data_dir.resolve()
    root = project_root.resolve()
    location = data_dir.relative_to(root) if data_dir.is_relative_to(root) else data_dir
    mapping = [
        [
            spec.key,
            spec.file,
            [list(pair) for pair in spec.columns],
            spec.date_format,
            spec.delimiter,
        ]
        for spec in sorted(specs_for_every_input(inputs), key=lambda spec: spec.key)
    ]
    text = json.dumps([location.as_posix(), mapping], sort_keys=True)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", data_dir.name).strip("-._")[:40] or "data"
    return f"{name}-{digest}"
