"""Deterministic synthetic e-commerce data laid out like the Marketing Insights dataset.

The real Kaggle dataset "Marketing Insights for E-Commerce Company" has five files
(``CustomersData``, ``Online_Sales``, ``Discount_Coupon``, ``Tax_amount``, ``Marketing_Spend``).
:func:`generate_sample_data` writes files with the same names, columns and text formats, filled
with made-up customers whose buying behaviour follows one of five planted archetypes
(:data:`custseg.sample.ARCHETYPES`). The true archetype of every customer is written to
``planted_segments.csv`` so tests can check that a segmentation pipeline recovers them.

This module is the entry point; the shop's products, the archetypes, the drawing of customers,
orders and lines, and the file writers live in the sibling modules.

Everything is vectorised with numpy and generated in fixed-size chunks of customers that are
appended to the output files, so millions of customers (tens of millions of sales lines) can be
produced with modest memory. The same arguments always give byte-identical files.

Examples
--------
>>> from pathlib import Path
>>> summary = generate_sample_data(Path("data/sample"), n_customers=1000)  # doctest: +SKIP
>>> summary.n_customers, summary.file_format  # doctest: +SKIP
(1000, 'csv')
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from custseg.sample.archetypes import line_scale
from custseg.sample.chunk import FIRST_TRANSACTION_ID, Chunk, generate_chunk
from custseg.sample.files import (
    CUSTOMERS_COLUMNS,
    DATASET_STEMS,
    FILE_FORMATS,
    PLANTED_COLUMNS,
    PLANTED_SEGMENTS_FILE,
    SALES_COLUMNS,
    TableWriter,
    write_table,
)
from custseg.sample.marketing import marketing_table
from custseg.sample.products import discount_coupon_table, tax_table
from custseg.settings import SAMPLE_CUSTOMERS, SAMPLE_FORMAT, SAMPLE_SEED

__all__ = ["SampleDataSummary", "generate_sample_data"]

# Customers generated (and appended to the output files) per chunk. Part of the data definition:
# changing it changes the generated data for a given seed.
_CHUNK_CUSTOMERS = 25_000
# Independent random streams derived from the user's seed.
_STREAM_CHUNK = 1
_STREAM_MARKETING = 2


@dataclass(frozen=True)
class SampleDataSummary:
    """What :func:`generate_sample_data` wrote.

    Attributes
    ----------
    out_dir : Path
        Folder holding the generated files.
    n_customers : int
        Rows in ``CustomersData`` (and in ``planted_segments.csv``).
    n_sales_lines : int
        Rows in ``Online_Sales``.
    n_orders : int
        Distinct (CustomerID, Transaction_ID) pairs in ``Online_Sales``.
    file_format : str
        ``"csv"`` or ``"parquet"``.
    seed : int
        Seed the data was generated from.
    """

    out_dir: Path
    n_customers: int
    n_sales_lines: int
    n_orders: int
    file_format: str
    seed: int


def generate_sample_data(
    out_dir: Path,
    n_customers: int = SAMPLE_CUSTOMERS,
    seed: int = SAMPLE_SEED,
    file_format: str = SAMPLE_FORMAT,
    lines_per_customer: float | None = None,
) -> SampleDataSummary:
    """Write a synthetic dataset shaped like the Marketing Insights data into ``out_dir``.

    Writes ``CustomersData``, ``Online_Sales``, ``Discount_Coupon``, ``Tax_amount`` and
    ``Marketing_Spend`` (extension ``.csv`` or ``.parquet``) plus ``planted_segments.csv``
    (``customer_id,archetype``: the true archetype of every customer, always CSV). All
    transactions fall in 2019. Existing files with these names are replaced; the same five
    dataset files in the *other* format are deleted so the folder holds one unambiguous dataset.

    Customer ids are ``12346, 12347, ...`` in order. Each customer belongs to one of
    :data:`~custseg.sample.ARCHETYPES` (shares of about 14/20/30/14/22 percent, allocated
    exactly per chunk of customers and shuffled); the archetypes differ in number of orders,
    recency, and order value so that K-means on per-customer RFM features recovers them.
    About 5 percent of ``Transaction_ID`` values are shared by two different customers, as in
    the real data.

    Parameters
    ----------
    out_dir : Path
        Destination folder; created (with parents) if missing.
    n_customers : int, default 2000
        Number of customers, at least 1. Every customer has at least one sales line.
    seed : int, default 42
        Non-negative seed. The same arguments always produce byte-identical files.
    file_format : {"csv", "parquet"}, default "csv"
        Format of the five dataset files. CSV: comma separated, ``\\n`` line endings, no quoting,
        dates as ``M/D/YYYY``, at most two decimals. Parquet: dates as DATE, ids and counts as
        int64, amounts as double, text as string; the coupon table's category column is named
        ``Product_Category`` (the CSV header keeps the real file's trailing space).
    lines_per_customer : float or None, default None
        Target mean number of ``Online_Sales`` rows per customer, reached by scaling the number
        of lines per order (the orders, and so the archetypes, do not change; order values are
        spread over more or fewer lines). None keeps the defaults
        (:func:`~custseg.sample.default_lines_per_customer`, about 32.5). Must be at least
        :func:`~custseg.sample.min_lines_per_customer` (about 9.9, one line per order).

    Returns
    -------
    SampleDataSummary
        Row counts and settings of what was written.

    Raises
    ------
    ValueError
        If ``n_customers < 1``, ``seed < 0``, ``file_format`` is not ``"csv"`` or
        ``"parquet"``, or ``lines_per_customer`` is not a finite number at least
        :func:`~custseg.sample.min_lines_per_customer`.
    """
    if isinstance(n_customers, bool) or not isinstance(n_customers, (int, np.integer)):
        raise ValueError(f"n_customers must be an integer, got {n_customers!r}.")
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    if file_format not in FILE_FORMATS:
        raise ValueError(
            f"file_format must be one of {', '.join(repr(f) for f in FILE_FORMATS)}, "
            f"got {file_format!r}."
        )
    scale = line_scale(lines_per_customer)
    n_customers = int(n_customers)
    seed = int(seed)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ext = "." + file_format
    final = {stem: out_dir / f"{stem}{ext}" for stem in DATASET_STEMS}
    final[PLANTED_SEGMENTS_FILE] = out_dir / PLANTED_SEGMENTS_FILE
    partial = {key: path.with_name(path.name + ".partial") for key, path in final.items()}

    try:
        n_lines = 0
        n_orders = 0
        with (
            TableWriter(partial["CustomersData"], file_format, CUSTOMERS_COLUMNS) as customers,
            TableWriter(partial["Online_Sales"], file_format, SALES_COLUMNS) as sales,
            TableWriter(partial[PLANTED_SEGMENTS_FILE], "csv", PLANTED_COLUMNS) as planted,
        ):
            for chunk in _chunks(n_customers, seed, scale):
                customers.write(chunk.customers)
                sales.write(chunk.sales)
                planted.write(chunk.planted)
                n_lines += chunk.sales.num_rows
                n_orders += chunk.n_orders
        write_table(partial["Discount_Coupon"], file_format, discount_coupon_table())
        write_table(partial["Tax_amount"], file_format, tax_table())
        marketing = marketing_table(np.random.default_rng([seed, _STREAM_MARKETING]))
        write_table(partial["Marketing_Spend"], file_format, marketing)
        for key, path in final.items():
            os.replace(partial[key], path)
    finally:
        for path in partial.values():
            path.unlink(missing_ok=True)
    other_ext = ".parquet" if file_format == "csv" else ".csv"
    for stem in DATASET_STEMS:
        (out_dir / f"{stem}{other_ext}").unlink(missing_ok=True)

    return SampleDataSummary(
        out_dir=out_dir,
        n_customers=n_customers,
        n_sales_lines=n_lines,
        n_orders=n_orders,
        file_format=file_format,
        seed=seed,
    )


def _chunks(n_customers: int, seed: int, scale: float) -> Iterator[Chunk]:
    """Generate the customers chunk by chunk, each chunk from its own random stream."""
    next_txn = FIRST_TRANSACTION_ID
    for index, start in enumerate(range(0, n_customers, _CHUNK_CUSTOMERS)):
        size = min(_CHUNK_CUSTOMERS, n_customers - start)
        rng = np.random.default_rng([seed, _STREAM_CHUNK, index])
        chunk = generate_chunk(rng, start, size, scale, next_txn)
        next_txn += chunk.n_orders
        yield chunk
