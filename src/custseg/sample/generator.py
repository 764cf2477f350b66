"""Deterministic synthetic e-commerce data laid out like the Marketing Insights dataset.

The real Kaggle dataset "Marketing Insights for E-Commerce Company" has five files
(``CustomersData``, ``Online_Sales``, ``Discount_Coupon``, ``Tax_amount``, ``Marketing_Spend``).
:func:`generate_sample_data` writes files with the same names, columns and text formats, filled
with made-up customers whose buying behaviour follows one of five planted archetypes
(:data:`ARCHETYPES`). The true archetype of every customer is written to ``planted_segments.csv``
so tests can check that a segmentation pipeline recovers them.

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

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custseg.catalogue import CATALOGUE

__all__ = [
    "ARCHETYPES",
    "SampleDataSummary",
    "default_lines_per_customer",
    "generate_sample_data",
    "min_lines_per_customer",
]

ARCHETYPES: tuple[str, ...] = tuple(segment.name for segment in CATALOGUE)
"""Names of the planted behaviour archetypes (the catalogue's, by id), as written to
``planted_segments.csv``."""

FILE_FORMATS: tuple[str, ...] = ("csv", "parquet")
"""Accepted values of ``file_format``."""

PLANTED_SEGMENTS_FILE = "planted_segments.csv"
DATASET_STEMS: tuple[str, ...] = (
    "CustomersData",
    "Online_Sales",
    "Discount_Coupon",
    "Tax_amount",
    "Marketing_Spend",
)

YEAR = 2019
N_DAYS = 365  # 2019 is not a leap year
_FIRST_CUSTOMER_ID = 12346
_FIRST_TRANSACTION_ID = 16679

# Customers generated (and appended to the output files) per chunk. Part of the data definition:
# changing it changes the generated data for a given seed.
_CHUNK_CUSTOMERS = 25_000
# Parquet settings are fixed so output bytes only depend on the arguments (and pyarrow version).
_PARQUET_OPTIONS: dict[str, object] = {
    "compression": "snappy",
    "version": "2.6",
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
}

# Independent random streams derived from the user's seed.
_STREAM_CHUNK = 1
_STREAM_MARKETING = 2
_CATALOGUE_SEED = 20190101  # the product catalogue is the same for every seed

_MONTHS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip

# --------------------------------------------------------------------------------------------
# Static structure of the dataset: categories, GST, coupons.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Category:
    name: str
    gst: float  # goods and services tax as a fraction
    coupon_prefix: str | None  # None: the category never has a coupon
    popularity: float  # relative share of sales lines (before price matching)
    price_range: tuple[float, float]
    products: tuple[str, ...]


_BRANDS = ("Google", "Android", "YouTube")


def _branded(items: tuple[str, ...], brands: tuple[str, ...] = _BRANDS) -> tuple[str, ...]:
    return tuple(f"{brand} {item}" for item in items for brand in brands)


@cache
def _categories() -> tuple[_Category, ...]:
    """Return the 20 sales categories (GST, coupon prefix, made-up products)."""
    apparel_items = tuple(
        f"{cut} {colour}"
        for cut in (
            "Men's Short Sleeve Tee",
            "Women's Short Sleeve Tee",
            "Men's Long Sleeve Tee",
            "Women's Tank Top",
            "Unisex Zip Hoodie",
            "Kids Crew Tee",
            "Infant Onesie",
            "Crew Socks",
            "Softshell Jacket",
            "Puffer Vest",
        )
        for colour in ("Black", "Navy", "Charcoal", "White")
    )
    return (
        _Category(
            "Nest-USA", 0.10, "ELEC", 26.0, (79.0, 249.0),
            (
                "Nest Learning Thermostat 3rd Gen - USA", "Nest Thermostat E - USA",
                "Nest Cam Indoor Camera - USA", "Nest Cam Outdoor Camera - USA",
                "Nest Protect Smoke and CO Alarm Battery - USA",
                "Nest Protect Smoke and CO Alarm Wired - USA", "Nest Cam IQ Indoor - USA",
                "Nest Hello Video Doorbell - USA", "Nest Temperature Sensor - USA",
            ),
        ),
        _Category(
            "Office", 0.10, "OFF", 12.0, (1.0, 80.0),
            _branded((
                "Ballpoint Pen 4-Pack", "Laptop Stickers", "Spiral Notepad", "Sticky Note Pad",
                "Highlighter Set", "Pencil Pouch", "Mouse Pad", "Lanyard", "Badge Holder",
                "Magnet Set", "Stylus Pen", "Wireless Mouse", "Desk Organizer",
            ), ("Google", "Android")),
        ),
        _Category("Apparel", 0.18, "SALE", 34.0, (5.0, 150.0), _branded(apparel_items)),
        _Category(
            "Bags", 0.18, "AIO", 3.6, (3.9, 150.0),
            _branded((
                "Reusable Shopping Bag", "Canvas Tote", "Laptop Sleeve", "Drawstring Bag",
                "Messenger Bag", "Rolling Duffel", "Gym Bag", "Insulated Lunch Bag",
            ), ("Google", "YouTube")),
        ),
        _Category(
            "Drinkware", 0.18, "EXTRA", 6.6, (2.3, 35.0),
            _branded((
                "Water Bottle 22 oz", "Ceramic Mug 14 oz", "Insulated Tumbler", "Can Cooler",
                "Travel Mug", "Pint Glass", "Steel Bottle 17 oz", "Straw Cup",
            ), ("Google", "Android")),
        ),
        _Category(
            "Lifestyle", 0.18, "EXTRA", 5.8, (1.5, 35.0),
            _branded((
                "Sunglasses", "Dog Frisbee", "Keychain", "Lip Balm", "Sport Towel", "Umbrella",
                "Yo-Yo", "Kick Ball", "Luggage Tag", "Lapel Pin",
            ), ("Google", "Android")),
        ),
        _Category(
            "Notebooks & Journals", 0.05, "NJ", 1.4, (4.8, 46.0),
            _branded((
                "Hard Cover Journal", "Spiral Notebook", "Leather Journal", "Sketchbook",
                "Pocket Notebook Set",
            ), ("Google", "YouTube")),
        ),
        _Category(
            "Headgear", 0.05, "HGEAR", 1.5, (10.0, 33.0),
            _branded(("Twill Cap", "Trucker Hat", "Knit Beanie", "Bucket Hat", "Sport Visor")),
        ),
        _Category(
            "Waze", 0.18, "WEMP", 1.0, (1.6, 19.6),
            (
                "Waze Mug", "Waze Sticker Pack", "Waze Short Sleeve Tee", "Waze Pen",
                "Waze Air Freshener", "Waze Phone Mount", "Waze Car Sunshade",
            ),
        ),
        _Category(
            "Fun", 0.18, None, 0.3, (3.6, 9.3),
            ("Google Foam Puzzle", "Android Bouncy Ball", "Android Mini Figure"),
        ),
        _Category(
            "Nest-Canada", 0.10, "NCA", 0.6, (100.0, 205.0),
            (
                "Nest Learning Thermostat - Canada", "Nest Cam Indoor - Canada",
                "Nest Cam Outdoor - Canada", "Nest Protect Battery - Canada",
                "Nest Protect Wired - Canada",
            ),
        ),
        _Category(
            "Backpacks", 0.10, None, 0.17, (38.0, 104.0),
            ("Google Laptop Backpack", "Google Rolltop Backpack", "YouTube Trail Backpack"),
        ),
        _Category(
            "Google", 0.10, None, 0.2, (11.0, 25.0),
            ("Google Logo Canvas Print", "Google Desk Lamp"),
        ),
        _Category(
            "Bottles", 0.05, "BT", 0.5, (2.3, 9.0),
            ("Android Bottle 22 oz", "Google Sport Bottle"),
        ),
        _Category(
            "Gift Cards", 0.05, "GC", 0.3, (25.0, 250.0),
            (
                "Gift Card - $25.00", "Gift Card - $50.00", "Gift Card - $100.00",
                "Gift Card - $250.00",
            ),
        ),
        _Category(
            "More Bags", 0.18, None, 0.09, (17.5, 33.0),
            ("Google Weekender Bag", "YouTube Recycled Tote"),
        ),
        _Category("Housewares", 0.12, "HOU", 0.23, (1.4, 2.5), ("Google Cork Coaster",)),
        _Category(
            "Android", 0.10, "AND", 0.08, (11.0, 21.0),
            (
                "Android Plush Toy", "Android Pin Set", "Android Sticker Bundle",
                "Android Desk Figure", "Android Phone Grip",
            ),
        ),
        _Category(
            "Accessories", 0.10, "ACC", 0.45, (2.3, 60.0),
            _branded((
                "Phone Ring Stand", "Cable Organizer", "Earbuds", "Power Bank",
                "Card Wallet", "Bluetooth Speaker", "Webcam Cover",
            ), ("Google",)),
        ),
        _Category(
            "Nest", 0.05, "NE", 4.2, (99.0, 355.0),
            (
                "Nest Cam IQ Outdoor", "Nest Secure Alarm Starter Pack", "Nest x Yale Lock",
                "Nest Learning Thermostat - Copper", "Nest Detect Sensor 2-Pack",
                "Nest Tag 4-Pack", "Nest Connect Range Extender", "Nest Hub Max",
            ),
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class _Catalogue:
    """Products sorted by nothing in particular; arrays are aligned by product index."""

    sku: pa.Array  # string
    description: pa.Array  # string
    category_names: pa.Array  # string, one per category
    category: np.ndarray  # int64 category index per product
    price: np.ndarray  # float64 list price per product
    log_price: np.ndarray
    cum_popularity: np.ndarray  # cumulative sampling weight per product, ends at 1.0


@cache
def _catalogue() -> _Catalogue:
    """Build the made-up product catalogue (identical for every seed)."""
    rng = np.random.default_rng(_CATALOGUE_SEED)
    cats = _categories()
    skus: list[str] = []
    descriptions: list[str] = []
    category: list[int] = []
    prices: list[float] = []
    weights: list[float] = []
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"))
    used_skus: set[str] = set()
    for ci, cat in enumerate(cats):
        n = len(cat.products)
        lo, hi = cat.price_range
        if cat.name == "Gift Cards":
            cat_prices = np.array([25.0, 50.0, 100.0, 250.0])
        else:
            # Log-uniform list prices, most ending in .99 like a real shop.
            raw = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
            ends_99 = rng.random(n) < 0.6
            cat_prices = np.where(ends_99 & (raw >= 2.0), np.floor(raw) + 0.99, np.round(raw, 2))
            cat_prices = np.clip(cat_prices, lo, hi)
        for pi in range(n):
            while True:
                sku = (
                    "GGOE"
                    + "".join(rng.choice(letters, 4))
                    + f"{int(rng.integers(10_000, 99_999)):05d}"
                    + str(int(rng.integers(0, 10)))
                )
                if sku not in used_skus:
                    used_skus.add(sku)
                    break
            skus.append(sku)
            descriptions.append(cat.products[pi])
            category.append(ci)
            prices.append(float(cat_prices[pi]))
            weights.append(cat.popularity / n)
    w = np.asarray(weights)
    cum = np.cumsum(w / w.sum())
    cum[-1] = 1.0
    price = np.round(np.asarray(prices), 2)
    return _Catalogue(
        sku=pa.array(skus, pa.string()),
        description=pa.array(descriptions, pa.string()),
        category_names=pa.array([c.name for c in cats], pa.string()),
        category=np.asarray(category, dtype=np.int64),
        price=price,
        log_price=np.log(price),
        cum_popularity=cum,
    )


# --------------------------------------------------------------------------------------------
# Behaviour archetypes.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    """Buying behaviour of one archetype.

    Orders per customer are ``orders_min + Binomial(orders_extra, orders_p)``. The last purchase
    is ``recency`` days before 31 December (uniform on the closed range) and the first purchase
    is up to ``span`` days before the last (uniform, clipped at 1 January); the other orders fall
    uniformly in between. The merchandise value of an order (quantity times list price, before
    tax, discount and delivery) is lognormal around the customer's typical order value, which is
    itself lognormal around ``order_value``.
    """

    share: float
    orders_min: int
    orders_extra: int
    orders_p: float
    recency: tuple[int, int]
    span: tuple[int, int]
    order_value: float
    customer_sigma: float
    order_sigma: float
    lines_per_order: float  # mean (geometric distribution, at least 1)

    @property
    def mean_orders(self) -> float:
        return self.orders_min + self.orders_extra * self.orders_p


# Aligned with ARCHETYPES.
_PROFILES: tuple[_Profile, ...] = (
    # Big Spenders: a few very large orders, last one a few months ago.
    _Profile(0.14, 2, 3, 0.45, (30, 150), (60, 330), 2200.0, 0.25, 0.30, 5.0),
    # At-Risk: bought regularly in the first part of the year, then stopped.
    _Profile(0.20, 6, 6, 0.45, (150, 300), (100, 300), 110.0, 0.25, 0.35, 3.0),
    # Occasional: one to three small orders at any time of the year.
    _Profile(0.30, 1, 2, 0.30, (15, 330), (0, 60), 35.0, 0.30, 0.35, 1.8),
    # Champions: many medium-high orders all year, including the last two weeks.
    _Profile(0.14, 22, 18, 0.50, (0, 13), (300, 364), 330.0, 0.20, 0.35, 3.4),
    # Loyal: regular modest orders, recently active.
    _Profile(0.22, 10, 8, 0.40, (10, 55), (200, 364), 85.0, 0.20, 0.35, 3.2),
)

_SHARES = np.array([p.share for p in _PROFILES])
_MEAN_ORDERS = np.array([p.mean_orders for p in _PROFILES])
_MEAN_LINES = np.array([p.lines_per_order for p in _PROFILES])

_GENDERS = ("M", "F")
_GENDER_P = (0.36, 0.64)
_LOCATIONS = ("Chicago", "California", "New York", "New Jersey", "Washington DC")
_LOCATION_P = (0.31, 0.32, 0.22, 0.10, 0.05)
_COUPON_STATUSES = ("Used", "Not Used", "Clicked")
_COUPON_STATUS_P = (0.34, 0.15, 0.51)
# Quantity people type into the basket (before matching the line's value).
_QUANTITIES = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 50])
_QUANTITY_P = np.array([66, 13, 4.5, 2.5, 3.3, 0.9, 0.5, 2.0, 0.6, 0.8, 1.0, 0.6, 0.6, 0.4])
_DELIVERY = np.array([6.0, 6.5, 8.7, 12.48, 12.91, 12.99, 19.99, 35.96])
_DELIVERY_P = np.array([0.50, 0.30, 0.03, 0.03, 0.02, 0.06, 0.03, 0.03])
_FREIGHT = np.array([20.0, 30.0, 50.0, 75.0])  # orders worth more than _FREIGHT_ABOVE
_FREIGHT_ABOVE = 1000.0
_SHARED_PAIR_P = 0.10  # chance that two date-adjacent orders share one Transaction_ID


# --------------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------------


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


def default_lines_per_customer() -> float:
    """Return the expected number of sales lines per customer with the default profiles.

    Returns
    -------
    float
        Mean ``Online_Sales`` rows per customer when ``lines_per_customer`` is None.
    """
    return float(np.sum(_SHARES * _MEAN_ORDERS * _MEAN_LINES))


def min_lines_per_customer() -> float:
    """Return the smallest ``lines_per_customer`` that can be requested.

    Every order has at least one line and the number of orders defines the archetypes, so the
    line count can only be lowered down to the mean number of orders per customer.

    Returns
    -------
    float
        Mean orders per customer (one line per order).
    """
    return float(np.sum(_SHARES * _MEAN_ORDERS))


def generate_sample_data(
    out_dir: Path,
    n_customers: int = 2000,
    seed: int = 42,
    file_format: str = "csv",
    lines_per_customer: float | None = None,
) -> SampleDataSummary:
    """Write a synthetic dataset shaped like the Marketing Insights data into ``out_dir``.

    Writes ``CustomersData``, ``Online_Sales``, ``Discount_Coupon``, ``Tax_amount`` and
    ``Marketing_Spend`` (extension ``.csv`` or ``.parquet``) plus ``planted_segments.csv``
    (``customer_id,archetype``: the true archetype of every customer, always CSV). All
    transactions fall in 2019. Existing files with these names are replaced; the same five
    dataset files in the *other* format are deleted so the folder holds one unambiguous dataset.

    Customer ids are ``12346, 12347, ...`` in order. Each customer belongs to one of
    :data:`ARCHETYPES` (shares of about 14/20/30/14/22 percent, allocated exactly per chunk of
    customers and shuffled); the archetypes differ in number of orders, recency, and order value
    so that K-means on per-customer RFM features recovers them. About 5 percent of
    ``Transaction_ID`` values are shared by two different customers, as in the real data.

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
        (:func:`default_lines_per_customer`, about 32.5). Must be at least
        :func:`min_lines_per_customer` (about 9.9, one line per order).

    Returns
    -------
    SampleDataSummary
        Row counts and settings of what was written.

    Raises
    ------
    ValueError
        If ``n_customers < 1``, ``seed < 0``, ``file_format`` is not ``"csv"`` or
        ``"parquet"``, or ``lines_per_customer`` is not a finite number at least
        :func:`min_lines_per_customer`.
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
    line_scale = _line_scale(lines_per_customer)
    n_customers = int(n_customers)
    seed = int(seed)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ext = "." + file_format
    final = {stem: out_dir / f"{stem}{ext}" for stem in DATASET_STEMS}
    final[PLANTED_SEGMENTS_FILE] = out_dir / PLANTED_SEGMENTS_FILE
    partial = {key: path.with_name(path.name + ".partial") for key, path in final.items()}

    day_strings = _day_strings()
    try:
        n_lines = 0
        n_orders = 0
        with (
            _TableWriter(partial["CustomersData"], file_format, _CUSTOMERS_SCHEMA) as customers,
            _TableWriter(partial["Online_Sales"], file_format, _SALES_SCHEMA) as sales,
            _TableWriter(partial[PLANTED_SEGMENTS_FILE], "csv", _PLANTED_SCHEMA) as planted,
        ):
            for chunk in _chunks(n_customers, seed, line_scale, _FIRST_TRANSACTION_ID):
                customers.write(chunk.customers, day_strings)
                sales.write(chunk.sales, day_strings)
                planted.write(chunk.planted, day_strings)
                n_lines += chunk.sales.num_rows
                n_orders += chunk.n_orders
        _write_table(partial["Discount_Coupon"], file_format, _discount_coupon_table(), None)
        _write_table(partial["Tax_amount"], file_format, _tax_table(), None)
        _write_table(partial["Marketing_Spend"], file_format, _marketing_table(seed), day_strings)
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


# --------------------------------------------------------------------------------------------
# Generation.
# --------------------------------------------------------------------------------------------


def _line_scale(lines_per_customer: float | None) -> float:
    """Return the factor applied to ``lines_per_order - 1`` to reach the requested mean."""
    if lines_per_customer is None:
        return 1.0
    try:
        target = float(lines_per_customer)
    except (TypeError, ValueError):
        raise ValueError(
            f"lines_per_customer must be a number or None, got {lines_per_customer!r}."
        ) from None
    lowest = min_lines_per_customer()
    if not math.isfinite(target) or target < lowest - 1e-9:
        raise ValueError(
            f"lines_per_customer must be a finite number of at least {lowest:.2f} "
            f"(one line per order), got {lines_per_customer!r}."
        )
    extra = float(np.sum(_SHARES * _MEAN_ORDERS * (_MEAN_LINES - 1.0)))
    return max(0.0, (target - lowest) / extra)


@dataclass(frozen=True)
class _Chunk:
    customers: pa.Table
    sales: pa.Table
    planted: pa.Table
    n_orders: int


def _chunks(n_customers: int, seed: int, line_scale: float, first_txn: int) -> Iterator[_Chunk]:
    next_txn = first_txn
    for index, start in enumerate(range(0, n_customers, _CHUNK_CUSTOMERS)):
        size = min(_CHUNK_CUSTOMERS, n_customers - start)
        rng = np.random.default_rng([seed, _STREAM_CHUNK, index])
        chunk = _generate_chunk(rng, start, size, line_scale, next_txn)
        next_txn += chunk.n_orders
        yield chunk


def _allocate(size: int) -> np.ndarray:
    """Split ``size`` customers over the archetypes by share (largest remainder)."""
    exact = _SHARES / _SHARES.sum() * size
    counts = np.floor(exact).astype(np.int64)
    remainder = size - int(counts.sum())
    if remainder:
        # Stable order: biggest fractional part first, ties by archetype index.
        order = np.lexsort((np.arange(len(exact)), -(exact - counts)))
        counts[order[:remainder]] += 1
    return counts


def _generate_chunk(
    rng: np.random.Generator, start: int, size: int, line_scale: float, first_txn: int
) -> _Chunk:
    cat = _catalogue()
    n_arch = len(_PROFILES)

    # ---- customers ---------------------------------------------------------------------
    customer_id = np.arange(_FIRST_CUSTOMER_ID + start, _FIRST_CUSTOMER_ID + start + size)
    archetype = rng.permutation(np.repeat(np.arange(n_arch), _allocate(size)))
    gender = rng.choice(len(_GENDERS), size, p=_GENDER_P)
    location = rng.choice(len(_LOCATIONS), size, p=_LOCATION_P)
    tenure = rng.integers(2, 51, size)

    def per_arch(values: list[float] | list[int]) -> np.ndarray:
        return np.asarray(values)[archetype]

    orders_min = per_arch([p.orders_min for p in _PROFILES])
    orders_extra = per_arch([p.orders_extra for p in _PROFILES])
    orders_p = per_arch([p.orders_p for p in _PROFILES])
    n_orders_c = orders_min + rng.binomial(orders_extra, orders_p)

    rec_lo = per_arch([p.recency[0] for p in _PROFILES])
    rec_hi = per_arch([p.recency[1] for p in _PROFILES])
    last_day = (N_DAYS - 1) - (rec_lo + np.floor(rng.random(size) * (rec_hi - rec_lo + 1)))
    span_lo = per_arch([p.span[0] for p in _PROFILES])
    span_hi = per_arch([p.span[1] for p in _PROFILES])
    span = span_lo + np.floor(rng.random(size) * (span_hi - span_lo + 1))
    first_day = np.maximum(0, last_day - span)
    typical_value = per_arch([p.order_value for p in _PROFILES]) * np.exp(
        rng.normal(0.0, 1.0, size) * per_arch([p.customer_sigma for p in _PROFILES])
    )

    # ---- orders ------------------------------------------------------------------------
    n_orders = int(n_orders_c.sum())
    order_cust = np.repeat(np.arange(size), n_orders_c)
    first_order = np.cumsum(n_orders_c) - n_orders_c
    rank = np.arange(n_orders) - np.repeat(first_order, n_orders_c)
    is_last = rank == np.repeat(n_orders_c - 1, n_orders_c)
    o_first = first_day[order_cust]
    o_last = last_day[order_cust]
    day = np.where(
        is_last, o_last, o_first + np.floor(rng.random(n_orders) * (o_last - o_first + 1))
    ).astype(np.int64)
    order_value = typical_value[order_cust] * np.exp(
        rng.normal(0.0, 1.0, n_orders) * per_arch([p.order_sigma for p in _PROFILES])[order_cust]
    )
    delivery = _DELIVERY[rng.choice(len(_DELIVERY), n_orders, p=_DELIVERY_P)]
    freight = _FREIGHT[rng.integers(0, len(_FREIGHT), n_orders)]
    delivery = np.where(order_value > _FREIGHT_ABOVE, freight, delivery)
    mean_lines = 1.0 + (per_arch([p.lines_per_order for p in _PROFILES]) - 1.0) * line_scale
    n_lines_o = rng.geometric(1.0 / mean_lines[order_cust])

    # Sort orders by date (random order within a day) and number them.
    order = np.lexsort((rng.random(n_orders), day))
    order_cust = order_cust[order]
    day = day[order]
    order_value = order_value[order]
    delivery = delivery[order]
    n_lines_o = n_lines_o[order]
    txn = first_txn + np.arange(n_orders, dtype=np.int64)
    # Like the real data, some Transaction_IDs belong to two different customers: pair up
    # date-adjacent orders and let the second reuse the first one's id.
    n_pairs = n_orders // 2
    a = 2 * np.arange(n_pairs)
    share = (rng.random(n_pairs) < _SHARED_PAIR_P) & (order_cust[a] != order_cust[a + 1])
    txn[a[share] + 1] = txn[a[share]]

    # ---- lines -------------------------------------------------------------------------
    n_lines = int(n_lines_o.sum())
    line_order = np.repeat(np.arange(n_orders), n_lines_o)
    weight = np.exp(rng.normal(0.0, 0.6, n_lines))
    weight_sum = np.bincount(line_order, weights=weight, minlength=n_orders)
    target = order_value[line_order] * weight / weight_sum[line_order]
    product, quantity = _pick_products(rng, target, cat)
    price = cat.price[product]
    wobble = rng.random(n_lines) < 0.35
    price = np.where(wobble, np.round(price * np.exp(rng.normal(0.0, 0.05, n_lines)), 2), price)
    price = np.maximum(price, 0.01)
    line_category = cat.category[product]
    gift_card = np.array([c.name == "Gift Cards" for c in _categories()])[line_category]
    line_delivery = np.where(gift_card, 0.0, delivery[line_order])
    coupon = rng.choice(len(_COUPON_STATUSES), n_lines, p=_COUPON_STATUS_P)

    line_cust = order_cust[line_order]
    sales = pa.table(
        {
            "CustomerID": pa.array(customer_id[line_cust], pa.int64()),
            "Transaction_ID": pa.array(txn[line_order], pa.int64()),
            "Transaction_Date": pa.array(day[line_order].astype(np.int32), pa.int32()),
            "Product_SKU": _dict(product, cat.sku),
            "Product_Description": _dict(product, cat.description),
            "Product_Category": _dict(line_category, cat.category_names),
            "Quantity": pa.array(quantity, pa.int64()),
            "Avg_Price": pa.array(price, pa.float64()),
            "Delivery_Charges": pa.array(line_delivery, pa.float64()),
            "Coupon_Status": _dict(coupon, pa.array(_COUPON_STATUSES)),
        }
    )
    customers = pa.table(
        {
            "CustomerID": pa.array(customer_id, pa.int64()),
            "Gender": _dict(gender, pa.array(_GENDERS)),
            "Location": _dict(location, pa.array(_LOCATIONS)),
            "Tenure_Months": pa.array(tenure, pa.int64()),
        }
    )
    planted = pa.table(
        {
            "customer_id": pa.array(customer_id, pa.int64()),
            "archetype": _dict(archetype, pa.array(ARCHETYPES)),
        }
    )
    # Distinct (customer, transaction) pairs: one per generated order, as a shared id always
    # joins two different customers.
    return _Chunk(customers, sales, planted, n_orders)


def _pick_products(
    rng: np.random.Generator, target: np.ndarray, cat: _Catalogue
) -> tuple[np.ndarray, np.ndarray]:
    """Choose a product and quantity per line so that quantity * price is close to ``target``.

    A basket quantity is drawn first; products are then proposed by popularity and accepted when
    their price is within a factor of two of ``target / quantity``. Lines still without a product
    after a few rounds (targets beyond the catalogue's prices) accept any product not dearer than
    1.5 times the target (the quantity then grows); the few left after that get the product with
    the nearest price. The final quantity is ``round(target / price)``, at least 1.
    """
    n = target.size
    qty_p = _QUANTITY_P / _QUANTITY_P.sum()
    wanted = target / _QUANTITIES[rng.choice(len(_QUANTITIES), n, p=qty_p)]
    log_wanted = np.log(np.maximum(wanted, 1e-3))
    log_cap = np.log(np.maximum(1.5 * target, 1e-3))
    product = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    for attempt in range(16):
        if todo.size == 0:
            break
        proposal = np.searchsorted(cat.cum_popularity, rng.random(todo.size), side="right")
        proposal = np.minimum(proposal, cat.price.size - 1)
        if attempt < 8:
            ok = np.abs(cat.log_price[proposal] - log_wanted[todo]) < math.log(2.0)
        else:
            ok = cat.log_price[proposal] <= log_cap[todo]
        product[todo[ok]] = proposal[ok]
        todo = todo[~ok]
    if todo.size:
        by_price = np.argsort(cat.price, kind="stable")
        sorted_log = cat.log_price[by_price]
        pos = np.clip(np.searchsorted(sorted_log, log_wanted[todo]), 1, by_price.size - 1)
        nearer_left = (log_wanted[todo] - sorted_log[pos - 1]) < (
            sorted_log[pos] - log_wanted[todo]
        )
        product[todo] = by_price[np.where(nearer_left, pos - 1, pos)]
    quantity = np.maximum(1, np.rint(target / cat.price[product])).astype(np.int64)
    return product, quantity


def _dict(indices: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), dictionary)


# --------------------------------------------------------------------------------------------
# Small static tables.
# --------------------------------------------------------------------------------------------


def _discount_coupon_table() -> pa.Table:
    """One row per (month, category with coupons); discounts cycle 10/20/30 percent."""
    months: list[str] = []
    categories: list[str] = []
    codes: list[str] = []
    pcts: list[int] = []
    for mi, month in enumerate(_MONTHS):
        pct = 10 * (mi % 3 + 1)
        for c in _categories():
            if c.coupon_prefix is None:
                continue
            months.append(month)
            categories.append(c.name)
            codes.append(f"{c.coupon_prefix}{pct}")
            pcts.append(pct)
    return pa.table(
        {
            "Month": pa.array(months, pa.string()),
            "Product_Category": pa.array(categories, pa.string()),
            "Coupon_Code": pa.array(codes, pa.string()),
            "Discount_pct": pa.array(pcts, pa.int64()),
        }
    )


def _tax_table() -> pa.Table:
    cats = _categories()
    return pa.table(
        {
            "Product_Category": pa.array([c.name for c in cats], pa.string()),
            "GST": pa.array([c.gst for c in cats], pa.float64()),
        }
    )


def _marketing_table(seed: int) -> pa.Table:
    """Daily spend: offline budget fixed per week, online spend noisy around it."""
    rng = np.random.default_rng([seed, _STREAM_MARKETING])
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


# --------------------------------------------------------------------------------------------
# Writing.
# --------------------------------------------------------------------------------------------

# Schemas on disk. Day columns are generated as int32 day-of-year (0 = 1 January) and converted
# when written: M/D/YYYY text in CSV, DATE in Parquet.
_DATE_COLUMNS = frozenset({"Transaction_Date", "Date"})
_CUSTOMERS_SCHEMA = ("CustomerID", "Gender", "Location", "Tenure_Months")
_SALES_SCHEMA = (
    "CustomerID", "Transaction_ID", "Transaction_Date", "Product_SKU", "Product_Description",
    "Product_Category", "Quantity", "Avg_Price", "Delivery_Charges", "Coupon_Status",
)  # fmt: skip
_PLANTED_SCHEMA = ("customer_id", "archetype")
# The real Discount_Coupon.csv header has a trailing space after Product_Category.
_CSV_HEADER_RENAMES = {"Discount_Coupon": {"Product_Category": "Product_Category "}}


@cache
def _day_strings() -> pa.Array:
    """``M/D/YYYY`` text for each day of the year, indexed by day-of-year."""
    days = np.arange(f"{YEAR}-01-01", f"{YEAR + 1}-01-01", dtype="datetime64[D]")
    months = days.astype("datetime64[M]")
    month_no = months.astype(np.int64) % 12 + 1
    day_no = (days - months).astype(np.int64) + 1
    return pa.array([f"{m}/{d}/{YEAR}" for m, d in zip(month_no, day_no, strict=True)])


_EPOCH_DAY = int(np.datetime64(f"{YEAR}-01-01", "D").astype(np.int64))


def _to_disk(table: pa.Table, file_format: str, day_strings: pa.Array | None) -> pa.Table:
    """Convert generated columns to their on-disk representation for ``file_format``."""
    columns: list[pa.Array] = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        arr = column.combine_chunks()
        if name in _DATE_COLUMNS:
            if file_format == "csv":
                assert day_strings is not None
                arr = pa.DictionaryArray.from_arrays(arr, day_strings)
            else:
                days = arr.to_numpy(zero_copy_only=False).astype(np.int32) + _EPOCH_DAY
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


class _TableWriter:
    """Append chunks of one table to a CSV or Parquet file."""

    def __init__(self, path: Path, file_format: str, columns: tuple[str, ...]) -> None:
        self._path = path
        self._format = file_format
        self._columns = columns
        self._writer: pacsv.CSVWriter | pq.ParquetWriter | None = None

    def __enter__(self) -> _TableWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._writer is not None:
            self._writer.close()

    def write(self, table: pa.Table, day_strings: pa.Array) -> None:
        disk = _to_disk(table.select(list(self._columns)), self._format, day_strings)
        if self._writer is None:
            if self._format == "csv":
                self._writer = pacsv.CSVWriter(
                    str(self._path), disk.schema, write_options=_csv_options()
                )
            else:
                self._writer = pq.ParquetWriter(str(self._path), disk.schema, **_PARQUET_OPTIONS)
        self._writer.write_table(disk)


def _write_table(
    path: Path, file_format: str, table: pa.Table, day_strings: pa.Array | None
) -> None:
    disk = _to_disk(table, file_format, day_strings)
    if file_format == "csv":
        stem = path.name.split(".", 1)[0]
        renames = _CSV_HEADER_RENAMES.get(stem, {})
        disk = disk.rename_columns([renames.get(n, n) for n in disk.column_names])
        pacsv.write_csv(disk, str(path), write_options=_csv_options())
    else:
        pq.write_table(disk, str(path), **_PARQUET_OPTIONS)
