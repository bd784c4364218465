"""German formatting of numbers, money, percentages, months and dates (1.234,56 €; März 2024)."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

MONTHS_DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
             "September", "Oktober", "November", "Dezember")
MONTHS_DE_SHORT = ("Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.",
                   "Nov.", "Dez.")

# Vega-Lite / d3 locales for German axes and tooltips (chart specs carry them).
D3_FORMAT_DE = {
    "decimal": ",",
    "thousands": ".",
    "grouping": [3],
    "currency": ["", "\u00a0€"],
}
D3_TIME_FORMAT_DE = {
    "dateTime": "%A, der %e. %B %Y, %X",
    "date": "%d.%m.%Y",
    "time": "%H:%M:%S",
    "periods": ["AM", "PM"],
    "days": ["Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"],
    "shortDays": ["So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"],
    "months": list(MONTHS_DE),
    "shortMonths": ["Jan", "Feb", "Mrz", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"],
}


def _is_missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number_de(x: float | int | None, decimals: int = 0) -> str:
    """Format 1234.5 as '1.234,5' (decimals fixed); '–' for missing."""
    if _is_missing(x):
        return "–"
    # commercial rounding (half up), as German users and Excel expect: 1234,5 → 1.235
    x = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    s = f"{x:,.{decimals}f}"
    s = s.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return s.replace("-", "−") if s.startswith("-") else s


def eur_de(x: float | None, decimals: int = 0) -> str:
    """Format money as '1.234 €' (non-breaking space before the sign)."""
    return "–" if _is_missing(x) else number_de(x, decimals) + "\u00a0€"


def eur_short_de(x: float | None) -> str:
    """Format large money compactly for tiles: '1,2 Mio. €', '356 Tsd. €'."""
    if _is_missing(x):
        return "–"
    a = abs(x)
    if a >= 1_000_000:
        return number_de(x / 1_000_000, 2) + "\u00a0Mio.\u00a0€"
    if a >= 10_000:
        return number_de(x / 1_000, 0) + "\u00a0Tsd.\u00a0€"
    return eur_de(x)


def pct_de(fraction: float | None, decimals: int = 1) -> str:
    """Format a fraction 0.125 as '12,5 %'."""
    return "–" if _is_missing(fraction) else number_de(fraction * 100, decimals) + "\u00a0%"


def month_de(d: date | datetime | None) -> str:
    """Format a date as 'März 2024'."""
    if d is None:
        return "–"
    return f"{MONTHS_DE[d.month - 1]} {d.year}"


def quarter_de(d: date) -> str:
    return f"{(d.month - 1) // 3 + 1}. Quartal {d.year}"


def period_de(d: date, granularity: str) -> str:
    """Format a period start by its granularity: 'März 2024', '1. Quartal 2024', '2024'."""
    if granularity == "year":
        return str(d.year)
    if granularity == "quarter":
        return quarter_de(d)
    return month_de(d)


def date_de(d: date | datetime | None) -> str:
    """Format a date as '31.03.2024'."""
    return "–" if d is None else d.strftime("%d.%m.%Y")


def datetime_de(d: datetime | None) -> str:
    return "–" if d is None else d.strftime("%d.%m.%Y, %H:%M Uhr")


_MONTH_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-\d{1,2})?\s*$")


def parse_month(text: str) -> date | None:
    """Parse 'YYYY-MM' (or an ISO date) to the first of that month; None if malformed."""
    m = _MONTH_RE.match(text or "")
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    if not (1 <= month <= 12 and 1900 <= year <= 2200):
        return None
    return date(year, month, 1)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")


def md_escape(text: object) -> str:
    """Escape user-supplied text (names of Kommunen, Maßnahmen) for Streamlit Markdown.

    Without it a name like '![x](https://host/p.png)' would make every browser fetch an
    outside image, and '**' or ':red[' would restyle the page.
    """
    return _MD_SPECIAL.sub(r"\\\1", str(text))
