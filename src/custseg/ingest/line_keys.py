"""Which lines of an input are the same line: key rules, line keys and a sales line's identity.

Lookup inputs (customers, coupons, GST, marketing spend) hold one line per key: lines sharing a
key with different values are rejected (:data:`KEY_RULES`, applied by
:mod:`custseg.ingest.checks`). Lines identical in every value are copies
(:mod:`custseg.ingest.repairs`).

Why a product on several lines of one order is accepted rather than rejected: a sales export
without a line id cannot tell a second scan of a product (a POS records one line per scan, with
or without a coupon) from a correction, and custseg's own sample generator writes such orders.

Why sales lines identical in every value are dropped when the file has a transaction id or a
SKU: such a line names its order and product, so a second identical one is the signature of a
double export (overlapping exports concatenated), and one copy is kept.

Why they are kept when the file has neither (a plain order log: customer, date, amount): each
line is then an order of its own, and nothing tells a customer buying the same thing for the
same amount twice on one day from a double export. Dropping would silently cut the
frequency and revenue of a customer's genuine repeat purchases; keeping is counted and reported,
so a double export remains visible in the run summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from custseg.ingest.files import RawFilePlan
    from custseg.ingest.staged import StagedTable


@dataclass(frozen=True)
class KeyRule:
    """Lines sharing a key must be identical; different values for one key are rejected."""

    # The key's columns, each with how it is compared: "value" (as staging reads it), "lower"
    # (its text, case ignored) or "date" (the day it means).
    key: tuple[tuple[str, str], ...]
    # What the key is, for messages ("customer id").
    what: str

    def expressions(self, table: StagedTable) -> tuple[str, ...]:
        """The key's expressions over ``table``, as the rule compares them."""
        return tuple(table.key_value(column, how) for column, how in self.key)


KEY_RULES: dict[str, KeyRule] = {
    "customers_data": KeyRule((("customerid", "value"),), "customer id"),
    "discount_coupon": KeyRule(
        (("month", "lower"), ("product_category", "value")), "month and category"
    ),
    "tax_amount": KeyRule((("product_category", "value"),), "category"),
    "marketing_spend": KeyRule((("date", "date"),), "date"),
}
#: A product on several lines of one order: accepted and counted.
SALES_LINE_KEY = ("customerid", "transaction_id", "product_sku")

#: The lines of one key (for the sales, the product of an order) are compared to find exact
#: copies and, for the sales, products on several lines with other values.
LINE_KEYS: dict[str, tuple[str, ...]] = {
    "customers_data": ("customerid",),
    "online_sales": SALES_LINE_KEY,
    "discount_coupon": ("month", "product_category"),
    "tax_amount": ("product_category",),
    "marketing_spend": ("date",),
}

#: Sales columns that give a line an identity: with either in the file, identical lines are a
#: double export; with neither, repeat purchases.
SALES_LINE_IDENTITY = ("transaction_id", "product_sku")


def has_line_identity(plan: RawFilePlan) -> bool:
    """Whether identical lines of this input are copies of one line (see the module docstring).

    Every input but the sales has a key; the sales have one when the file gives a transaction
    id or a SKU.
    """
    if plan.table.table_name != "online_sales":
        return True
    return any(plan.has(column) for column in SALES_LINE_IDENTITY)
