"""How the admin's reporting pages show numbers, so the usage page and experiment results agree."""

from __future__ import annotations

from decimal import Decimal

EMPTY = "—"


def format_count(value: int) -> str:
    return f"{value:,}"


def format_percent(rate: float | None) -> str:
    return EMPTY if rate is None else f"{100 * rate:.1f}%"


def format_ms(ms: float | None) -> str:
    """Milliseconds below a second, seconds with two decimals above."""
    if ms is None:
        return EMPTY
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def format_cost(cost: Decimal | None) -> str:
    """US dollars to a hundredth of a cent; a dash when nothing priced it (never "$0")."""
    return EMPTY if cost is None else f"${cost:,.4f}"
