"""Writing the generated tables as the dataset's CSV or Parquet files, byte for byte the same.

CSV is written like the real exports: comma separated, ``\\n`` line endings, no quoting, dates
as ``M/D/YYYY``. Parquet keeps the types (dates as DATE, text as plain strings). The writer
settings are fixed so that the bytes only depend on the data (and the pyarrow version).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custseg.sample.days import EPOCH_DAY, day_strings

#: Accepted values of ``file_format``.
FILE_FORMATS: tuple[str, ...] = ("csv", "parquet")
#: The five dataset files, without their extension.
DATASET_STEMS: tuple[str, ...] = (
    "CustomersData",
    "Online_Sales",
    "Discount_Coupon",
    "Tax_amount",
    "Marketing_Spend",
)
#: The planted archetype of every customer; always CSV.
PLANTED_SEGMENTS_FILE = "planted_segments.csv"

# Columns of the files written chunk by chunk, in file order.
CUSTOMERS_COLUMNS = ("CustomerID", "Gender", "Location", "Tenure_Months")
SALES_COLUMNS = (
    "CustomerID", "Transaction_ID", "Transaction_Date", "Product_SKU", "Product_Description",
    "Product_Category", "Quantity", "Avg_Price", "Delivery_Charges", "Coupon_Status",
)  # fmt: skip
PLANTED_COLUMNS = ("customer_id", "archetype")

# Day columns are generated as int32 day-of-year (0 = 1 January) and converted when written:
# M/D/YYYY text in CSV, DATE in Parquet.
_DATE_COLUMNS = frozenset({"Transaction_Date", "Date"})
# The real Discount_Coupon.csv header has a trailing space after Product_Category.
_CSV_HEADER_RENAMES = {"Discount_Coupon": {"Product_Category": "Product_Category "}}
_PARQUET_OPTIONS: dict[str, object] = {
    "compression": "snappy",
    "version": "2.6",
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
}


class TableWriter:
    """Append chunks of one table to a CSV or Parquet file.

    Parameters
    ----------
    path : Path
        File to write (replaced).
    file_format : {"csv", "parquet"}
        How to write it.
    columns : tuple of str
        Columns of the chunks to write, in file order.
    """

    def __init__(self, path: Path, file_format: str, columns: tuple[str, ...]) -> None:
        self._path = path
        self._format = file_format
        self._columns = columns
        self._writer: pacsv.CSVWriter | pq.ParquetWriter | None = None

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._writer is not None:
            self._writer.close()

    def write(self, table: pa.Table) -> None:
        """Append the rows of ``table`` (the first call also writes the header or schema)."""
        disk = _to_disk(table.select(list(self._columns)), self._format)
        if self._writer is None:
            if self._format == "csv":
                self._writer = pacsv.CSVWriter(
                    str(self._path), disk.schema, write_options=_csv_options()
                )
            else:
                self._writer = pq.ParquetWriter(str(self._path), disk.schema, **_PARQUET_OPTIONS)
        self._writer.write_table(disk)


def write_table(path: Path, file_format: str, table: pa.Table) -> None:
    """Write a whole small table to ``path``, with the real file's CSV header if it has one.

    Parameters
    ----------
    path : Path
        File to write (replaced); its name up to the first dot names the dataset file.
    file_format : {"csv", "parquet"}
        How to write it.
    table : pyarrow.Table
        The rows, day columns as day-of-year.
    """
    disk = _to_disk(table, file_format)
    if file_format == "csv":
        stem = path.name.split(".", 1)[0]
        renames = _CSV_HEADER_RENAMES.get(stem, {})
        disk = disk.rename_columns([renames.get(n, n) for n in disk.column_names])
        pacsv.write_csv(disk, str(path), write_options=_csv_options())
    else:
        pq.write_table(disk, str(path), **_PARQUET_OPTIONS)


def _to_disk(table: pa.Table, file_format: str) -> pa.Table:
    """Convert generated columns to their on-disk representation for ``file_format``."""
    columns: list[pa.Array] = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        arr = column.combine_chunks()
        if name in _DATE_COLUMNS:
            if file_format == "csv":
                arr = pa.DictionaryArray.from_arrays(arr, day_strings())
            else:
                days = arr.to_numpy(zero_copy_only=False).astype(np.int32) + EPOCH_DAY
                arr = pa.array(days, pa.int32()).view(pa.date32())
        elif file_format == "parquet" and pa.types.is_dictionary(arr.type):
            arr = arr.dictionary.take(arr.indices)
        columns.append(arr)
    return pa.table(columns, names=table.column_names)


def _csv_options() -> pacsv.WriteOptions:
    return pacsv.WriteOptions(
        include_header=True,
        delimiter=",",
        eol="\n",
        quoting_style="none",
        quoting_header="none",
        batch_size=65_536,
    )
