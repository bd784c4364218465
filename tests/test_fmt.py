"""German formats as users read them: 1.234,56 €; 12,5 %; März 2024; half-up rounding."""

from datetime import date

import pytest

from kpi import fmt


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (1234.56, 2, "1.234,56"),
        (1234.5, 0, "1.235"),  # half up, not half to even
        (4.25, 1, "4,3"),
        (0.125, 2, "0,13"),
        (-1234.5, 0, "−1.235"),
        (1_000_000, 0, "1.000.000"),
        (None, 0, "–"),
        (float("nan"), 1, "–"),
    ],
)
def test_number_de(value, decimals, expected):
    assert fmt.number_de(value, decimals) == expected


def test_money_percent_and_months():
    assert fmt.eur_de(1234.56, 2) == "1.234,56\u00a0€"
    assert fmt.pct_de(0.125) == "12,5\u00a0%"
    assert fmt.eur_short_de(1_234_567) == "1,23\u00a0Mio.\u00a0€"
    assert fmt.eur_short_de(356_400) == "356\u00a0Tsd.\u00a0€"
    assert fmt.month_de(date(2024, 3, 1)) == "März 2024"
    assert fmt.period_de(date(2024, 4, 1), "quarter") == "2. Quartal 2024"
    assert fmt.date_de(date(2024, 3, 31)) == "31.03.2024"


@pytest.mark.parametrize(("text", "expected"), [("2024-03", date(2024, 3, 1)), ("2024-3", date(2024, 3, 1)),
                                                ("2024-13", None), ("März 2024", None), ("", None)])
def test_parse_month(text, expected):
    assert fmt.parse_month(text) == expected


def test_data_version_is_memoised_and_changes_with_each_commit(fresh_db):
    v = fresh_db.data_version()
    assert fresh_db.data_version() == v
    with fresh_db.transaction() as cur:
        cur.execute("INSERT INTO handlungsfeld VALUES ('Test')")
    assert fresh_db.data_version() == v + 1


@pytest.mark.parametrize(
    "name",
    ["![x](https://evil.example/p.png)", "[klick](javascript:alert(1))", "**fett** _kursiv_",
     ":red[rot]", "<img src=x onerror=alert(1)>", "$x^2$", "E-Akte (Bauamt) #1"],
)
def test_md_escape_neutralises_markdown(name):
    import markdown_it  # streamlit renders with a CommonMark parser as well

    html = markdown_it.MarkdownIt("commonmark").render(fmt.md_escape(name))
    assert "<img" not in html and "<a " not in html and "<strong>" not in html and "<em>" not in html


def test_md_escape_keeps_plain_names_readable():
    assert fmt.md_escape("Musterstadt") == "Musterstadt"
    assert fmt.md_escape("Online-Antrag Wohngeld") == "Online\\-Antrag Wohngeld"
