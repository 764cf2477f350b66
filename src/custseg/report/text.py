"""How the HTML report writes values: escaped for HTML, rounded, with thousands separators."""

from __future__ import annotations

import html


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


def measure(column: str, value: float) -> str:
    if column == "days_since_last_purchase":
        return f"{value:,.0f} days"
    if column == "total_orders":
        return f"{value:,.1f} orders"
    return amount(value)
