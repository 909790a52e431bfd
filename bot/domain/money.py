"""Amounts of US dollars as people read them: "$0", "$0.50", "$0.0120" (never "$0.0000")."""

from __future__ import annotations


def usd(amount: float) -> str:
    """Whole cents (a cap, a price) with two decimals; fractions of a cent, spent below a dollar,
    with four, so small spends are still told apart."""
    if amount <= 0:
        return "$0"
    if amount >= 1 or round(amount, 2) == round(amount, 6):
        return f"${amount:,.2f}"
    return f"${amount:.4f}"
