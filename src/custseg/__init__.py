"""custseg: machine-learned, named, tested customer segments inside a dbt project.

The Python API (see the README's "Python API")::

    import custseg

    result = custseg.run("exports/2024", as_of_date="2024-01-01")    # as `custseg run`
    features = custseg.build_features("exports/2024")                 # a pyarrow.Table
    segments = custseg.segment(features, k=5)                         # in memory
    segments.assignments                                              # customer_id, segment_*
    model = custseg.load_model("ml_pipeline/models/segment_model.json")
    model.predict(features)

The names are imported on first use (:mod:`custseg.api`), so ``import custseg`` (which the
command line does) loads neither dbt nor scikit-learn. Their errors are the exceptions of
:mod:`custseg.errors` (``custseg.errors.CustsegError`` catches every one a user can act on).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from custseg import errors
from custseg.version import __version__

if TYPE_CHECKING:
    from custseg.api import (
        RunResult,
        SampleDataSummary,
        SegmentModel,
        SegmentResult,
        build_features,
        generate_sample,
        load_model,
        run,
        segment,
    )

__all__ = [
    "RunResult",
    "SampleDataSummary",
    "SegmentModel",
    "SegmentResult",
    "__version__",
    "build_features",
    "errors",
    "generate_sample",
    "load_model",
    "run",
    "segment",
]

#: The names :mod:`custseg.api` provides.
_API = frozenset(__all__) - {"__version__", "errors"}


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module("custseg.api"), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module 'custseg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
