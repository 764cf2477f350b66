"""Keep the last good published tables while new ones are built and tested.

``dbt build`` replaces ``fct_customer_segments`` before it runs the tests of that model: a test
that fails on the new mart would leave the failed version in place. :func:`kept_while_publishing`
copies the published tables aside first and puts the copies back when publishing fails, so the
mart users read keeps its last good rows whatever failed (a seed test, a mart test, the server).

The copies are plain tables named ``<table>__custseg_last_good`` beside the originals. Copying,
not renaming, keeps the mart readable throughout on a server engine; it costs about 1 s for a
million customers on DuckDB. A run killed in between leaves a copy behind, which the next run
replaces.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from custseg.warehouses import Warehouse

#: Tables a run publishes through dbt, kept as a set: the mart and the SQL scores it reads.
PUBLISHED_TABLES = ("fct_customer_segments", "customer_segment_scores")
SUFFIX = "__custseg_last_good"


@contextlib.contextmanager
def kept_while_publishing(
    warehouse: Warehouse, tables: Sequence[str] = PUBLISHED_TABLES
) -> Iterator[None]:
    """Copy ``tables`` aside; on an exception put them back (then re-raise), else drop the copies.

    Tables that do not exist yet (a first run) are not kept: a failed first run has no last good
    mart to return to.
    """
    kept = [name for name in tables if warehouse.table_exists(name)]
    for name in kept:
        warehouse.copy_table(name, name + SUFFIX)
    try:
        yield
    except BaseException as error:
        try:
            for name in kept:
                warehouse.replace_table(name, name + SUFFIX)
        except Exception as restore_error:  # the engine may be what failed
            copies = ", ".join(name + SUFFIX for name in kept)
            error.add_note(
                f"The last good tables could not be put back ({restore_error}); they are kept "
                f"as {copies}. The next successful run replaces them."
            )
        raise
    for name in kept:
        warehouse.drop_table(name + SUFFIX)
