"""The sample's year: 2019, its days as day-of-year numbers, and how they are written.

Every generated date is an ``int32`` day of the year (0 = 1 January); the files module turns it
into ``M/D/YYYY`` text for CSV or a DATE for Parquet when it writes.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa

YEAR = 2019
N_DAYS = 365  # 2019 is not a leap year

#: Month names as the real ``Discount_Coupon`` file writes them.
MONTHS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip

#: Days from 1970-01-01 to 1 January of :data:`YEAR` (Arrow's ``date32`` counts from 1970).
EPOCH_DAY = int(np.datetime64(f"{YEAR}-01-01", "D").astype(np.int64))


@cache
def day_strings() -> pa.Array:
    """Return the ``M/D/YYYY`` text of every day of the year, indexed by day-of-year.

    Returns
    -------
    pyarrow.Array
        :data:`N_DAYS` strings, ``"1/1/2019"`` first.
    """
    days = np.arange(f"{YEAR}-01-01", f"{YEAR + 1}-01-01", dtype="datetime64[D]")
    months = days.astype("datetime64[M]")
    month_no = months.astype(np.int64) % 12 + 1
    day_no = (days - months).astype(np.int64) + 1
    return pa.array([f"{m}/{d}/{YEAR}" for m, d in zip(month_no, day_no, strict=True)])
