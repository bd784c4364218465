"""Parsing of periods and numbers as German users write them; scalar and vectorised (Arrow).

Periods → (period_start, granularity): `2024-03`, `03/2024`, `März 2024`, `Mrz. 24`, `Q1 2024`,
`1. Quartal 2024`, `2024`, ISO dates, German dates, Excel dates and serial numbers. A date
stands for the month that contains it.

Numbers → float: Excel numbers, `1.234,56`, `12 %` (→ 12, the value in the KPI's unit),
`1.200 €`, `1 234,5`, trailing minus `8.000-`. `-`, `.`, `x`, `…`, `n/a`, `nan` and empty cells
are *missing* (None), never 0.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa

from kpi.ingest import arrays as A
from kpi.ingest import compute as pc

MONTH = "month"
QUARTER = "quarter"
YEAR = "year"

_EXCEL_EPOCH = date(1899, 12, 30)
YEAR_MIN, YEAR_MAX = 1900, 2200
SERIAL_MIN, SERIAL_MAX = 10_000, 110_000  # 1927 … 2201; below that a number is no date

# Month names and abbreviations (German, Austrian, English), folded to lower case without dot.
_MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        "januar jan jän jänner jaenner january",
        "februar feb febr feber february",
        "märz mär mrz maerz mar march marz",
        "april apr",
        "mai may",
        "juni jun june",
        "juli jul july",
        "august aug",
        "september sep sept",
        "oktober okt oct october",
        "november nov",
        "dezember dez dec december",
    ),
    start=1,
):
    for _n in _names.split():
        _MONTHS[_n] = _i

_WS = re.compile(r"[\s\u00a0\u2009\u202f]+")
_RE_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_RE_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_RE_MM_YYYY = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{4})$")
_RE_DE_DATE = re.compile(r"^(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4}|\d{2})$")
_RE_MONTH_NAME = re.compile(r"^([a-zäöü]+)\.?\s*[\-/']?\s*(\d{4}|\d{2})$")
_RE_Q1 = re.compile(r"^q\s*([1-4])\s*[/\-.]?\s*(\d{4}|\d{2})$")
_RE_Q2 = re.compile(r"^(\d{4})\s*[/\-]?\s*q\s*([1-4])$")
_RE_Q3 = re.compile(r"^([1-4])\s*\.?\s*(?:quartal|qu\.?|q\.?|vj\.?|vierteljahr)\s*(\d{4}|\d{2})$")
_RE_YEAR = re.compile(r"^(\d{4})(?:\.0+)?$")
_RE_SERIAL = re.compile(r"^(\d{5,6})(?:\.\d+)?$")


def _year2(text: str) -> int:
    y = int(text)
    return 2000 + y if len(text) == 2 else y


def _ok_year(y: int) -> bool:
    return YEAR_MIN <= y <= YEAR_MAX


def _month(y: int, m: int) -> tuple[date, str] | None:
    if _ok_year(y) and 1 <= m <= 12:
        return date(y, m, 1), MONTH
    return None


def parse_period(value) -> tuple[date, str] | None:
    """Parse one period cell to (first day, granularity); None if it is no period we know."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _month(value.year, value.month)
    if isinstance(value, date):
        return _month(value.year, value.month)
    if isinstance(value, int | float | np.integer | np.floating):
        if value != value:  # NaN
            return None
        if float(value).is_integer() and _ok_year(int(value)):
            return date(int(value), 1, 1), YEAR
        if SERIAL_MIN <= value < SERIAL_MAX:
            d = _EXCEL_EPOCH + timedelta(days=int(value))
            return _month(d.year, d.month)
        return None
    text = _WS.sub(" ", str(value)).strip().lower()
    if not text:
        return None
    if m := _RE_YEAR.match(text):
        y = int(m.group(1))
        return (date(y, 1, 1), YEAR) if _ok_year(y) else None
    if m := _RE_ISO_MONTH.match(text):
        return _month(int(m.group(1)), int(m.group(2)))
    if m := _RE_ISO_DATE.match(text):
        try:
            d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
        return _month(d.year, d.month)
    if m := _RE_MM_YYYY.match(text):
        return _month(int(m.group(2)), int(m.group(1)))
    if m := _RE_DE_DATE.match(text):
        try:
            d = date(_year2(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            return None
        return _month(d.year, d.month)
    if m := _RE_Q1.match(text):
        y = _year2(m.group(2))
        return (date(y, 3 * int(m.group(1)) - 2, 1), QUARTER) if _ok_year(y) else None
    if m := _RE_Q2.match(text):
        y = int(m.group(1))
        return (date(y, 3 * int(m.group(2)) - 2, 1), QUARTER) if _ok_year(y) else None
    if m := _RE_Q3.match(text):
        y = _year2(m.group(2))
        return (date(y, 3 * int(m.group(1)) - 2, 1), QUARTER) if _ok_year(y) else None
    if m := _RE_MONTH_NAME.match(text):
        month = _MONTHS.get(m.group(1))
        if month is None:
            return None
        return _month(_year2(m.group(2)), month)
    if m := _RE_SERIAL.match(text):
        serial = float(text)
        if SERIAL_MIN <= serial < SERIAL_MAX:
            d = _EXCEL_EPOCH + timedelta(days=int(serial))
            return _month(d.year, d.month)
    return None


def parse_periods(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Vectorised `parse_period` over a string array: (date32 starts, granularity strings); null = unknown.

    Each distinct text is parsed once (period columns repeat few values), then mapped back.
    """
    arr = pc.cast(arr, pa.string()) if arr.type != pa.string() else arr
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    uniq = pc.unique(arr)
    starts, grans = [], []
    for v in uniq.to_pylist():
        r = parse_period(v)
        starts.append(r[0] if r else None)
        grans.append(r[1] if r else None)
    idx = pc.index_in(arr, value_set=uniq)
    return (
        pc.take(A.dates(starts), idx),
        pc.take(A.strings(grans), idx),
    )


# ---------------------------------------------------------------------------------------- numbers

MISSING_TOKENS = ("", "-", "–", "—", ".", "..", "...", "…", "x", "nan", "n/a", "n.a.", "na", "k.a.", "/", "*")

# What is stripped before the number is read: currency, percent, apostrophes (1'234).
_STRIP_RE = "(?i)(eur|€|%|')"
_SPACED_RE = r"^[+-]?\d{1,3}( \d{3})+([.,]\d+)?-?$"  # 1 234,5: spaces as thousands separators
_DE_RE = r"^[+-]?([1-9]\d{0,2}(\.\d{3})+|\d+)(,\d+)?$"  # 1.234,56  1234,5  1.200  12 (never 0.025)
_EN_RE = r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?([eE][+-]?\d+)?$"  # 1,234.56  1234.5  1e20
_AMBIGUOUS_RE = r"^[+-]?[1-9]\d{0,2}(\.\d{3})+$"  # 1.234 is 1234 (German text) or 1,234 (an Excel number)


def _clean(arr: pa.Array) -> pa.Array:
    s = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, _STRIP_RE, ""))
    spaced = pc.fill_null(pc.match_substring_regex(s, _SPACED_RE), A.FALSE)
    s = pc.if_else(spaced, pc.replace_substring(s, " ", ""), s)
    # trailing minus (8.000-) as budget plans print it → leading minus
    trailing = pc.fill_null(pc.match_substring_regex(s, r"^[+]?[\d.,]+-$"), A.FALSE)
    moved = pc.binary_join_element_wise(A.string("-"), pc.utf8_slice_codeunits(s, 0, -1), A.string(""))
    return pc.if_else(trailing, moved, s)


def number_status(arr: pa.Array, *, decimal: str = "excel", numeric_mask: pa.Array | None = None):
    """Vectorised number parsing of a string column.

    Returns (values float64, missing bool, bad bool): `missing` for empty cells and the
    statistical placeholders (`-`, `.`, `x`, …), `bad` for text that is no number.
    decimal: 'de' text from German users only (`1.234,56`; `1234.5` is bad);
    'en' decimal point first (`1,234.56`), German as fallback (`0,5`);
    'excel' cells of a workbook: German text, and Excel numbers rendered as `1234.5`.
    `numeric_mask` marks cells that were Excel numbers (always read with a decimal point).
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string():
        arr = pc.cast(arr, pa.string())
    fast = fast_numbers(arr, decimal, numeric_mask)
    if fast is not None:
        return fast
    raw = pc.utf8_lower(pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, "[\u00a0\u2009\u202f]", " ")))
    missing = pc.or_(pc.is_null(raw), pc.fill_null(pc.is_in(raw, value_set=A.strings(MISSING_TOKENS)), A.TRUE))
    s = _clean(raw)
    is_de = pc.fill_null(pc.match_substring_regex(s, _DE_RE), A.FALSE)
    is_en = pc.fill_null(pc.match_substring_regex(s, _EN_RE), A.FALSE)
    de_text = pc.replace_substring(pc.replace_substring(s, ".", ""), ",", ".")
    en_text = pc.replace_substring(s, ",", "")
    if decimal == "en":
        use_de = pc.and_(is_de, pc.invert(is_en))
        use_en = is_en
    elif decimal == "de":
        use_de = is_de
        use_en = A.full(len(s), False)
    else:  # excel
        use_de = is_de
        use_en = pc.and_(is_en, pc.invert(is_de))
    if numeric_mask is not None:
        nm = pc.fill_null(numeric_mask, A.FALSE)
        use_de = pc.and_(use_de, pc.invert(nm))
        use_en = pc.or_(pc.and_(use_en, pc.invert(nm)), pc.and_(nm, is_en))
    text = pc.if_else(use_de, de_text, pc.if_else(use_en, en_text, A.NULL_STRING))
    values = pc.cast(text, pa.float64())
    # 1e400 parses as inf: not a finite number
    finite = pc.fill_null(pc.is_finite(values), A.FALSE)
    values = pc.if_else(finite, values, A.NULL_FLOAT)
    bad = pc.and_(pc.invert(missing), pc.invert(finite))
    return values, missing, bad


# Numbers as Excel renders numeric cells, none of them ambiguous (1.234 is excluded)
_FAST_EXCEL_RE = r"^-?(\d+|0\.\d+|\d+\.\d{1,2}|\d+\.\d{4,}|\d{4,}\.\d+)([eE][-+]?\d+)?$"
_FAST_INT_RE = r"^-?\d{1,15}$"


def fast_numbers(arr: pa.Array, decimal: str, numeric_mask):
    """Whole column of plain numbers (the usual Excel number column): one regex and a cast."""
    pattern = _FAST_INT_RE if decimal == "de" else _FAST_EXCEL_RE
    ok = pc.match_substring_regex(arr, pattern)
    if not pc.all(pc.fill_null(ok, A.TRUE)).as_py():
        return None
    values = pc.cast(arr, pa.float64())
    finite = pc.fill_null(pc.is_finite(values), A.FALSE)
    if not pc.all(pc.or_(finite, pc.is_null(arr))).as_py():
        return None
    missing = pc.is_null(arr)
    return values, missing, A.full(len(arr), False)


def ambiguous_mask(arr: pa.Array) -> pa.Array:
    """Cells like `1.234` that mean 1234 as German text but 1.234 as an Excel number rendered as text."""
    s = _clean(pc.utf8_trim_whitespace(pc.cast(arr, pa.string())))
    return pc.fill_null(pc.match_substring_regex(s, _AMBIGUOUS_RE), A.FALSE)


def parse_number(value, *, decimal: str = "excel"):
    """Parse one cell to float; None if missing; raises ValueError if it is no number."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float | np.integer | np.floating):
        f = float(value)
        if f != f:
            return None
        if f in (float("inf"), float("-inf")):
            raise ValueError(value)
        return f
    values, missing, bad = number_status(A.strings([str(value)]), decimal=decimal)
    if missing[0].as_py():
        return None
    if bad[0].as_py():
        raise ValueError(value)
    return values[0].as_py()


# ----------------------------------------------------------------------------------- helpers

def col_letter(index: int) -> str:
    """0 → 'A', 25 → 'Z', 26 → 'AA'."""
    s = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        s = chr(65 + rem) + s
    return s


def col_index(letters: str) -> int:
    """'A' → 0, 'AA' → 26; ValueError if not letters."""
    letters = letters.strip().upper()
    if not letters or not letters.isascii() or not letters.isalpha() or len(letters) > 3:
        raise ValueError(letters)
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def fold(text) -> str:
    """Normalise a header or label for matching: lower case, umlauts folded, no punctuation/space."""
    if text is None:
        return ""
    s = str(text).lower().strip()
    s = s.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    return re.sub(r"[^a-z0-9%€]+", "", s)


def fold_array(arr: pa.Array) -> pa.Array:
    """Vectorised `fold`."""
    s = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(arr, pa.string())))
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        s = pc.replace_substring(s, a, b)
    return pc.replace_substring_regex(s, r"[^a-z0-9%€]+", "")


_RE_DE_FULLDATE = re.compile(r"^(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})$")


def parse_date(value) -> date | None:
    """Parse a calendar date: Excel date/serial, ISO `2024-03-15`, German `15.03.2024`; None if not."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _WS.sub(" ", str(value)).strip()
    try:
        if m := _RE_ISO_DATE.match(text.lower()):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := _RE_DE_FULLDATE.match(text):
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        if m := _RE_SERIAL.match(text):
            serial = float(text)
            if SERIAL_MIN <= serial < SERIAL_MAX:
                return _EXCEL_EPOCH + timedelta(days=int(serial))
    except ValueError:
        return None
    # a month or year given where a date is expected: its first day
    p = parse_period(text)
    return p[0] if p else None
