"""Parsing of periods and numbers as users write them: tables of inputs that succeed and that fail."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest

from kpi.ingest.parse import (
    col_index,
    col_letter,
    number_status,
    parse_date,
    parse_number,
    parse_period,
    parse_periods,
)

PERIODS_OK = [
    ("2024-03", date(2024, 3, 1), "month"),
    ("2024-3", date(2024, 3, 1), "month"),
    ("03/2024", date(2024, 3, 1), "month"),
    ("3.2024", date(2024, 3, 1), "month"),
    ("März 2024", date(2024, 3, 1), "month"),
    ("märz 2024", date(2024, 3, 1), "month"),
    ("Maerz 2024", date(2024, 3, 1), "month"),
    ("Mrz. 24", date(2024, 3, 1), "month"),
    ("Dez. 2023", date(2023, 12, 1), "month"),
    ("Jan 24", date(2024, 1, 1), "month"),
    ("Januar 2025", date(2025, 1, 1), "month"),
    ("Q1 2024", date(2024, 1, 1), "quarter"),
    ("Q4/2023", date(2023, 10, 1), "quarter"),
    ("2024 Q2", date(2024, 4, 1), "quarter"),
    ("1. Quartal 2024", date(2024, 1, 1), "quarter"),
    ("3. Quartal 2024", date(2024, 7, 1), "quarter"),
    ("2024", date(2024, 1, 1), "year"),
    ("2024.0", date(2024, 1, 1), "year"),  # a year typed as an Excel number
    ("31.03.2024", date(2024, 3, 1), "month"),  # a date stands for its month
    ("2024-03-31", date(2024, 3, 1), "month"),
    ("2024-03-01 00:00:00", date(2024, 3, 1), "month"),  # an Excel date cell as the reader renders it
    ("45352", date(2024, 3, 1), "month"),  # Excel serial number of 2024-03-01
    (datetime(2024, 3, 15, 12, 0), date(2024, 3, 1), "month"),
    (date(2024, 11, 30), date(2024, 11, 1), "month"),
    (45352, date(2024, 3, 1), "month"),
    (2024, date(2024, 1, 1), "year"),
]

PERIODS_BAD = ["Frühling 2024", "2024-13", "13/2024", "Q5 2024", "5. Quartal 2024", "Foo 2024", "", "   ",
               "1850", "31.02.2024", "2021-28", "abc", None, 3.5, True, "5"]


@pytest.mark.parametrize("text,start,gran", PERIODS_OK)
def test_period_is_understood(text, start, gran):
    assert parse_period(text) == (start, gran)


@pytest.mark.parametrize("text", PERIODS_BAD)
def test_period_is_refused(text):
    assert parse_period(text) is None


def test_vectorised_periods_agree_with_scalar():
    texts = [t for t, _s, _g in PERIODS_OK if isinstance(t, str)] + ["Frühling", None] * 3
    starts, grans = parse_periods(pa.array(texts * 50, pa.string()))
    expected = [parse_period(t) for t in texts * 50]
    assert starts.to_pylist() == [e[0] if e else None for e in expected]
    assert grans.to_pylist() == [e[1] if e else None for e in expected]


# (text, value as German text in a workbook/CSV 'de', CSV with decimal point 'en', workbook cell 'excel')
NUMBERS = [
    ("1.234,56", 1234.56, 1234.56, 1234.56),
    ("12 %", 12.0, 12.0, 12.0),  # percent as written, in the KPI's unit (not 0.12)
    ("1.200 €", 1200.0, 1.2, 1200.0),
    ("1.200 EUR", 1200.0, 1.2, 1200.0),
    ("1 234,5", 1234.5, 1234.5, 1234.5),
    ("1\u00a0234,5", 1234.5, 1234.5, 1234.5),
    ("8.000-", -8000.0, -8.0, -8000.0),  # trailing minus of budget plans
    ("-3", -3.0, -3.0, -3.0),
    ("+5", 5.0, 5.0, 5.0),
    ("0,5", 0.5, 0.5, 0.5),
    ("236258,00", 236258.0, 236258.0, 236258.0),
    ("1.234.567,5", 1234567.5, 1234567.5, 1234567.5),
    ("1234.5", "bad", 1234.5, 1234.5),  # German text never has a decimal point
    ("1,234.56", "bad", 1234.56, 1234.56),
    ("1e20", "bad", 1e20, 1e20),
    ("1.234", 1234.0, 1.234, 1234.0),  # ambiguous: see the numeric-mask test
    ("-", None, None, None),  # '-' = nothing, '.' = unknown: both missing, never 0
    (".", None, None, None),
    ("", None, None, None),
    ("x", None, None, None),
    ("nan", None, None, None),
    ("N/A", None, None, None),
    ("…", None, None, None),
    ("zwölf", "bad", "bad", "bad"),
    ("820 33", "bad", "bad", "bad"),  # spaces that are no thousands groups (broken PDF extraction)
    ("6.761 820 33 4.110", "bad", "bad", "bad"),
    ("1e400", "bad", "bad", "bad"),  # infinite
    ("12,5,3", "bad", "bad", "bad"),
]


@pytest.mark.parametrize("text,de,en,excel", NUMBERS)
def test_numbers_per_locale(text, de, en, excel):
    for mode, want in (("de", de), ("en", en), ("excel", excel)):
        if want == "bad":
            with pytest.raises(ValueError):
                parse_number(text, decimal=mode)
        else:
            assert parse_number(text, decimal=mode) == want, mode


def test_vectorised_numbers_report_missing_and_bad():
    values, missing, bad = number_status(pa.array(["1.234,5", "-", None, "zwölf", "7"]), decimal="de")
    assert values.to_pylist() == [1234.5, None, None, None, 7.0]
    assert missing.to_pylist() == [False, True, True, False, False]
    assert bad.to_pylist() == [False, False, False, True, False]


def test_numeric_mask_tells_excel_number_from_german_text():
    # an Excel number 1.234 and the German text „1.234“ (= 1234) render alike
    values, _m, _b = number_status(pa.array(["1.234", "1.234"]), numeric_mask=pa.array([True, False]))
    assert values.to_pylist() == [1.234, 1234.0]


def test_python_numbers_pass_through():
    assert parse_number(3) == 3.0
    assert parse_number(2.5) == 2.5
    assert parse_number(None) is None
    assert parse_number(float("nan")) is None
    with pytest.raises(ValueError):
        parse_number(True)


@pytest.mark.parametrize("text,want", [
    ("15.03.2024", date(2024, 3, 15)), ("2024-03-15", date(2024, 3, 15)),
    ("2024-03-15 00:00:00", date(2024, 3, 15)), ("45366", date(2024, 3, 15)), ("2024-03", date(2024, 3, 1)),
    ("32.01.2024", None), ("morgen", None),
])
def test_dates(text, want):
    assert parse_date(text) == want


def test_column_letters_round_trip():
    for i, letters in [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")]:
        assert col_letter(i) == letters
        assert col_index(letters) == i
    with pytest.raises(ValueError):
        col_index("A1")


def test_fast_path_for_plain_number_columns_agrees_with_full_parsing():
    plain = ["1234.5", "0.025", "-3", "1e5", None, "12345.678", "7"]
    values, missing, bad = number_status(pa.array(plain), decimal="excel")
    assert values.to_pylist() == [1234.5, 0.025, -3.0, 1e5, None, 12345.678, 7.0]
    assert missing.to_pylist() == [False, False, False, False, True, False, False]
    assert not any(bad.to_pylist())
    # one German or ambiguous cell sends the column through the full parser
    values, _m, _b = number_status(pa.array(plain + ["1.234"]), decimal="excel")
    assert values.to_pylist()[-1] == 1234.0
    values, _m, bad = number_status(pa.array(["12", "12.5"]), decimal="de")
    assert values.to_pylist() == [12.0, None] and bad.to_pylist() == [False, True]
