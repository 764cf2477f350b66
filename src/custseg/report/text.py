"""How the HTML report writes values: escaped for HTML, rounded, with thousands separators."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass


def escape(value: object) -> str:
    """``value`` as HTML text (quotes too, for attributes): the page's and the charts' escape."""
    return html.escape(str(value), quote=True)


def thousands(n: int) -> str:
    return f"{n:,}"


def percent(share: float) -> str:
    return f"{share:.1%}"


def whole_percent(share: float) -> str:
    return f"{share:.0%}"


def amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def number(value: object, digits: int) -> str:
    return "n/a" if value is None else f"{float(value):,.{digits}f}"  # type: ignore[arg-type]


def plain(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def compact(value: float) -> str:
    """1234 -> 1.2k, 2500000 -> 2.5M; small values keep up to one decimal."""
    magnitude = abs(value)
    for divisor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= divisor:
            scaled = value / divisor
            text = (
                f"{scaled:.0f}" if abs(scaled) >= 100 else f"{scaled:.1f}".rstrip("0").rstrip(".")
            )
            return text + suffix
    if magnitude >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Money:
    """How the page writes an amount of money: with the currency label of the settings.

    A symbol goes right before the number (``$1,234``, ``₹1.2M``); a label ending in a letter
    (a code such as EUR, or kr) is set apart by a no-break space (``EUR 1,234``). The sign comes
    first (``-$5``). Without a label, amounts are plain numbers.
    """

    currency: str | None = None

    def amount(self, value: float) -> str:
        """``value`` as :func:`amount` writes it, labelled."""
        return self.labelled(amount(value))

    def compact(self, value: float) -> str:
        """``value`` as :func:`compact` writes it (1.2k, 2.5M), labelled."""
        return self.labelled(compact(value))

    def labelled(self, number: str) -> str:
        if not self.currency:
            return number
        sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
        space = "\u00a0" if self.currency[-1].isalpha() else ""
        return f"{sign}{self.currency}{space}{digits}"

    def unit(self) -> str:
        """`` (EUR)`` to add after a money measure's name; empty without a label."""
        return f" ({self.currency})" if self.currency else ""


#: Amounts without a currency label.
PLAIN_MONEY = Money()
#: Profile measures whose values are money.
MONEY_MEASURES = ("total_revenue", "avg_order_value")


def measure(column: str, value: float, money: Money = PLAIN_MONEY) -> str:
    """A profile measure's value with its unit: days, orders or an amount of money."""
    if column == "days_since_last_purchase":
        return f"{value:,.0f} days"
    if column == "total_orders":
        return f"{value:,.1f} orders"
    return money.amount(value)


def measure_axis(column: str, money: Money = PLAIN_MONEY) -> Callable[[float], str]:
    """How a chart's axis writes a profile measure's ticks (money labelled, others compact)."""
    return money.compact if column in MONEY_MEASURES else compact
