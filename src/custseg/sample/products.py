"""The made-up shop: 20 sales categories with their GST and coupons, and a product catalogue.

The categories, GST rates and coupon prefixes follow the real dataset's; the product names and
SKUs are invented, the list prices drawn once from a fixed seed. The catalogue is the same for
every seed the user passes, so a dataset's ``Tax_amount`` and ``Discount_Coupon`` files never
change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from custseg.sample.days import MONTHS

#: Seed of the product catalogue, whatever seed the data is generated from.
CATALOGUE_SEED = 20190101


@dataclass(frozen=True)
class Category:
    """One sales category of the shop."""

    name: str
    gst: float  # goods and services tax as a fraction
    coupon_prefix: str | None  # None: the category never has a coupon
    popularity: float  # relative share of sales lines (before price matching)
    price_range: tuple[float, float]
    products: tuple[str, ...]


_BRANDS = ("Google", "Android", "YouTube")


def _branded(items: tuple[str, ...], brands: tuple[str, ...] = _BRANDS) -> tuple[str, ...]:
    """Every item under every brand: ``("Mug",)`` -> ``("Google Mug", "Android Mug", ...)``."""
    return tuple(f"{brand} {item}" for item in items for brand in brands)


@cache
def categories() -> tuple[Category, ...]:
    """Return the 20 sales categories (GST, coupon prefix, made-up products).

    Returns
    -------
    tuple of Category
        In the order of the ``Tax_amount`` file; a product's category is an index into it.
    """
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
        Category(
            "Nest-USA", 0.10, "ELEC", 26.0, (79.0, 249.0),
            (
                "Nest Learning Thermostat 3rd Gen - USA", "Nest Thermostat E - USA",
                "Nest Cam Indoor Camera - USA", "Nest Cam Outdoor Camera - USA",
                "Nest Protect Smoke and CO Alarm Battery - USA",
                "Nest Protect Smoke and CO Alarm Wired - USA", "Nest Cam IQ Indoor - USA",
                "Nest Hello Video Doorbell - USA", "Nest Temperature Sensor - USA",
            ),
        ),
        Category(
            "Office", 0.10, "OFF", 12.0, (1.0, 80.0),
            _branded((
                "Ballpoint Pen 4-Pack", "Laptop Stickers", "Spiral Notepad", "Sticky Note Pad",
                "Highlighter Set", "Pencil Pouch", "Mouse Pad", "Lanyard", "Badge Holder",
                "Magnet Set", "Stylus Pen", "Wireless Mouse", "Desk Organizer",
            ), ("Google", "Android")),
        ),
        Category("Apparel", 0.18, "SALE", 34.0, (5.0, 150.0), _branded(apparel_items)),
        Category(
            "Bags", 0.18, "AIO", 3.6, (3.9, 150.0),
            _branded((
                "Reusable Shopping Bag", "Canvas Tote", "Laptop Sleeve", "Drawstring Bag",
                "Messenger Bag", "Rolling Duffel", "Gym Bag", "Insulated Lunch Bag",
            ), ("Google", "YouTube")),
        ),
        Category(
            "Drinkware", 0.18, "EXTRA", 6.6, (2.3, 35.0),
            _branded((
                "Water Bottle 22 oz", "Ceramic Mug 14 oz", "Insulated Tumbler", "Can Cooler",
                "Travel Mug", "Pint Glass", "Steel Bottle 17 oz", "Straw Cup",
            ), ("Google", "Android")),
        ),
        Category(
            "Lifestyle", 0.18, "EXTRA", 5.8, (1.5, 35.0),
            _branded((
                "Sunglasses", "Dog Frisbee", "Keychain", "Lip Balm", "Sport Towel", "Umbrella",
                "Yo-Yo", "Kick Ball", "Luggage Tag", "Lapel Pin",
            ), ("Google", "Android")),
        ),
        Category(
            "Notebooks & Journals", 0.05, "NJ", 1.4, (4.8, 46.0),
            _branded((
                "Hard Cover Journal", "Spiral Notebook", "Leather Journal", "Sketchbook",
                "Pocket Notebook Set",
            ), ("Google", "YouTube")),
        ),
        Category(
            "Headgear", 0.05, "HGEAR", 1.5, (10.0, 33.0),
            _branded(("Twill Cap", "Trucker Hat", "Knit Beanie", "Bucket Hat", "Sport Visor")),
        ),
        Category(
            "Waze", 0.18, "WEMP", 1.0, (1.6, 19.6),
            (
                "Waze Mug", "Waze Sticker Pack", "Waze Short Sleeve Tee", "Waze Pen",
                "Waze Air Freshener", "Waze Phone Mount", "Waze Car Sunshade",
            ),
        ),
        Category(
            "Fun", 0.18, None, 0.3, (3.6, 9.3),
            ("Google Foam Puzzle", "Android Bouncy Ball", "Android Mini Figure"),
        ),
        Category(
            "Nest-Canada", 0.10, "NCA", 0.6, (100.0, 205.0),
            (
                "Nest Learning Thermostat - Canada", "Nest Cam Indoor - Canada",
                "Nest Cam Outdoor - Canada", "Nest Protect Battery - Canada",
                "Nest Protect Wired - Canada",
            ),
        ),
        Category(
            "Backpacks", 0.10, None, 0.17, (38.0, 104.0),
            ("Google Laptop Backpack", "Google Rolltop Backpack", "YouTube Trail Backpack"),
        ),
        Category(
            "Google", 0.10, None, 0.2, (11.0, 25.0),
            ("Google Logo Canvas Print", "Google Desk Lamp"),
        ),
        Category(
            "Bottles", 0.05, "BT", 0.5, (2.3, 9.0),
            ("Android Bottle 22 oz", "Google Sport Bottle"),
        ),
        Category(
            "Gift Cards", 0.05, "GC", 0.3, (25.0, 250.0),
            (
                "Gift Card - $25.00", "Gift Card - $50.00", "Gift Card - $100.00",
                "Gift Card - $250.00",
            ),
        ),
        Category(
            "More Bags", 0.18, None, 0.09, (17.5, 33.0),
            ("Google Weekender Bag", "YouTube Recycled Tote"),
        ),
        Category("Housewares", 0.12, "HOU", 0.23, (1.4, 2.5), ("Google Cork Coaster",)),
        Category(
            "Android", 0.10, "AND", 0.08, (11.0, 21.0),
            (
                "Android Plush Toy", "Android Pin Set", "Android Sticker Bundle",
                "Android Desk Figure", "Android Phone Grip",
            ),
        ),
        Category(
            "Accessories", 0.10, "ACC", 0.45, (2.3, 60.0),
            _branded((
                "Phone Ring Stand", "Cable Organizer", "Earbuds", "Power Bank",
                "Card Wallet", "Bluetooth Speaker", "Webcam Cover",
            ), ("Google",)),
        ),
        Category(
            "Nest", 0.05, "NE", 4.2, (99.0, 355.0),
            (
                "Nest Cam IQ Outdoor", "Nest Secure Alarm Starter Pack", "Nest x Yale Lock",
                "Nest Learning Thermostat - Copper", "Nest Detect Sensor 2-Pack",
                "Nest Tag 4-Pack", "Nest Connect Range Extender", "Nest Hub Max",
            ),
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class ProductCatalogue:
    """Every product of the shop, in category order; the arrays are aligned by product index."""

    sku: pa.Array  # string
    description: pa.Array  # string
    category_names: pa.Array  # string, one per category
    category: np.ndarray  # int64 category index per product
    price: np.ndarray  # float64 list price per product
    log_price: np.ndarray
    cum_popularity: np.ndarray  # cumulative sampling weight per product, ends at 1.0


@cache
def product_catalogue() -> ProductCatalogue:
    """Build the made-up product catalogue (identical for every seed).

    Returns
    -------
    ProductCatalogue
        Every product of :func:`categories`, in category order.
    """
    rng = np.random.default_rng(CATALOGUE_SEED)
    cats = categories()
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
    return ProductCatalogue(
        sku=pa.array(skus, pa.string()),
        description=pa.array(descriptions, pa.string()),
        category_names=pa.array([c.name for c in cats], pa.string()),
        category=np.asarray(category, dtype=np.int64),
        price=price,
        log_price=np.log(price),
        cum_popularity=cum,
    )


def discount_coupon_table() -> pa.Table:
    """Return the ``Discount_Coupon`` table: one row per (month, category with coupons).

    Discounts cycle 10/20/30 percent over the months; the code is the category's prefix and the
    percentage (``SALE10``).

    Returns
    -------
    pyarrow.Table
        Columns ``Month``, ``Product_Category``, ``Coupon_Code``, ``Discount_pct``.
    """
    months: list[str] = []
    names: list[str] = []
    codes: list[str] = []
    pcts: list[int] = []
    for mi, month in enumerate(MONTHS):
        pct = 10 * (mi % 3 + 1)
        for c in categories():
            if c.coupon_prefix is None:
                continue
            months.append(month)
            names.append(c.name)
            codes.append(f"{c.coupon_prefix}{pct}")
            pcts.append(pct)
    return pa.table(
        {
            "Month": pa.array(months, pa.string()),
            "Product_Category": pa.array(names, pa.string()),
            "Coupon_Code": pa.array(codes, pa.string()),
            "Discount_pct": pa.array(pcts, pa.int64()),
        }
    )


def tax_table() -> pa.Table:
    """Return the ``Tax_amount`` table: the GST of every category.

    Returns
    -------
    pyarrow.Table
        Columns ``Product_Category`` and ``GST`` (a fraction).
    """
    cats = categories()
    return pa.table(
        {
            "Product_Category": pa.array([c.name for c in cats], pa.string()),
            "GST": pa.array([c.gst for c in cats], pa.float64()),
        }
    )
