"""The ``Marketing_Spend`` table: a year of daily offline and online advertising spend."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from custseg.sample.days import N_DAYS


def marketing_table(rng: np.random.Generator) -> pa.Table:
    """Draw the daily spend: an offline budget fixed per week, online spend noisy around it.

    Parameters
    ----------
    rng : numpy.random.Generator
        The marketing table's own random stream.

    Returns
    -------
    pyarrow.Table
        One row per day: ``Date`` (day of the year, int32), ``Offline_Spend`` (int64, whole
        dollars) and ``Online_Spend`` (float64, two decimals).
    """
    levels = np.array([500, 700, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000])
    level_p = np.array([1, 1, 2, 2, 6, 10, 13, 9, 5, 2, 1], dtype=float)
    weeks = (N_DAYS + 6) // 7
    offline = np.repeat(levels[rng.choice(levels.size, weeks, p=level_p / level_p.sum())], 7)
    offline = offline[:N_DAYS]
    online = np.round(np.clip(offline * 0.6 * np.exp(rng.normal(0, 0.45, N_DAYS)), 300, 5000), 2)
    return pa.table(
        {
            "Date": pa.array(np.arange(N_DAYS, dtype=np.int32), pa.int32()),
            "Offline_Spend": pa.array(offline.astype(np.int64), pa.int64()),
            "Online_Spend": pa.array(online, pa.float64()),
        }
    )
