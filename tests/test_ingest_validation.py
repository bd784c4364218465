"""Every validation message kind with sheet and cell; errors stop the load unless partial;
one transaction through commit(); idempotent re-upload; preview counts."""

from __future__ import annotations

from datetime import date

import pytest

from kpi import store
from kpi.ingest import pipeline
from kpi.ingest.pipeline import IngestRefused, Issue, analyse, commit, preview_counts
from tests.test_ingest_layouts import make_xlsx

HEAD = ("Kommune", "Maßnahme", "Kennzahl", "Monat", "Wert", "Einheit")


def book(*rows, sheet="Kosten"):
    return make_xlsx({sheet: [HEAD, *rows]})


def texts(issues):
    return [i.text_de() for i in issues]


@pytest.mark.parametrize("row,expected", [
    (("A", "M", "fallzahl", "2024-01", "zwölf", None),
     "Blatt „Kosten“, Zelle E2: „zwölf“ ist keine Zahl"),
    (("A", "M", "fallzahl", None, 5, None),
     "Blatt „Kosten“, Zelle D2: Zeitraum fehlt"),
    (("A", "M", "fallzahl", "Frühjahr 2024", 5, None),
     "Blatt „Kosten“, Zelle D2: „Frühjahr 2024“ ist kein Zeitraum, den das Programm versteht "
     "(Beispiele: 2024-03, 03/2024, März 2024, Q1 2024, 1. Quartal 2024, 2024)"),
    (("A", "M", None, "2024-01", 5, None),
     "Blatt „Kosten“, Zelle C2: Kennzahl fehlt"),
    (("A", "M", "Wartezeit", "2024-01", 5, None),
     "Blatt „Kosten“, Zelle C2: Kennzahl „Wartezeit“ ist unbekannt. Schreibweise prüfen oder die Kennzahl "
     "im Blatt „Kennzahlen“ der Vorlage anlegen (Schlüssel, Bezeichnung, Einheit, Familie, Polarität)."),
    ((None, "M", "fallzahl", "2024-01", 5, None),
     "Blatt „Kosten“, Zelle A2: Kommune fehlt. Spalte „Kommune“ ergänzen oder die Kommune festlegen "
     "(Importprofil bzw. kpi ingest --set kommune=NAME)."),
])
def test_error_kinds_name_sheet_and_cell(row, expected):
    res = analyse(book(("A", "M", "fallzahl", "2024-02", 7, None), row), "f.xlsx")
    assert texts(res.errors) == [expected.replace("2:", "3:").replace("E2", "E3").replace("D2", "D3")
                                 .replace("C2", "C3").replace("A2", "A3")]
    assert res.n_error_rows == 1
    assert res.n_valid_rows == 1  # the good row is still there for a partial load


def test_iso_weeks_are_refused_not_read_as_months():
    res = analyse(book(("A", None, "fallzahl", "2021-05", 1, None), ("A", None, "fallzahl", "2021-28", 1, None)),
                  "w.xlsx")
    assert [e.cell for e in res.errors] == ["D2", "D3"]  # 2021-05 is week 5 here, not May
    assert "Kalenderwoche" in res.errors[0].message
    assert res.n_valid_rows == 0


def test_warning_kinds():
    res = analyse(book(
        ("A", "M", "bitv_score", "2024-01", 120, None),                 # out of range 0–100
        ("A", "M", "fallzahl", "2099-01", 5, None),                     # future
        ("A", "M", "fallzahl", "2024-02", 10, None),
        ("A", "M", "online_faelle", "2024-02", 12, None),               # above fallzahl
        ("A", "M", "fallzahl", "2024-03", 10, None),
        ("A", "M", "fallzahl", "März 2024", 11, None),                  # duplicate key
        ("A", "M", "kosten_betrieb_eur", "2024-03", 100, "Stunden"),    # unit differs
        ("A", "M", "kosten_betrieb_eur", "2024-04", 100, "EUR"),        # same unit, other spelling
        ("Gesamt", None, None, None, 1234, None),                       # totals row
    ), "w.xlsx", )
    assert not res.has_errors
    assert sorted(texts(res.warnings)) == sorted([
        "Blatt „Kosten“, Zelle E2: Wert 120 liegt außerhalb des üblichen Bereichs von "
        "„BITV-Test-Ergebnis (0–100 Punkte)“ (0 bis 100); bitte prüfen",
        "Blatt „Kosten“, Zelle D3: Zeitraum Januar 2099 liegt in der Zukunft",
        "Blatt „Kosten“, Zelle E5: Online-Fälle (12) sind mehr als alle Fälle (10) im selben Zeitraum; bitte prüfen",
        "Blatt „Kosten“, Zeile 7: Doppelte Zeile: derselbe Wert (Kommune, Maßnahme, Kennzahl, Zeitraum) steht "
        "schon in Blatt „Kosten“, Zeile 6; die letzte Zeile gilt",
        "Blatt „Kosten“, Zeile 8: Einheit „Stunden“ passt nicht zu „Betriebs- und Lizenzkosten (laufend)“ "
        "(erwartet: €); der Wert wird unverändert übernommen",
        "Blatt „Kosten“, Zeile 10: Summenzeile übersprungen (Summen berechnet das Programm selbst).",
    ])
    assert res.n_valid_rows == 8


def test_issue_text_and_report():
    assert Issue("error", "x", "Kosten", "D14", 14, "D").text_de() == "Blatt „Kosten“, Zelle D14: x"
    assert Issue("warning", "x", "Kosten", None, 7).text_de() == "Blatt „Kosten“, Zeile 7: x"
    assert Issue("error", "x").text_de() == "x"
    res = analyse(book(("A", "M", "fallzahl", "2024-01", "zwölf", None)), "f.xlsx")
    report = res.report_de()
    assert "Fehler (1):" in report and "Zelle E2: „zwölf“ ist keine Zahl" in report
    assert "wird nicht geladen" in report


def test_many_bad_rows_give_a_capped_report_with_exact_counts():
    rows = [("A", None, "fallzahl", f"2020-{m:02d}", "kaputt", None) for m in range(1, 13)] * 10
    res = analyse(book(*rows), "viel.xlsx")
    assert res.n_error_rows == 120
    assert len(res.errors) == 51  # 50 shown and one '… und 70 weitere'
    assert res.errors[-1].message.startswith("… und 70 weitere Zeilen")


def current(db):
    return db.query("SELECT kommune, massnahme, kpi, period, value FROM v_measurement ORDER BY ALL")


def test_file_with_errors_loads_nothing_unless_partial(fresh_db):
    res = analyse(book(("A", "M", "fallzahl", "2024-01", 5, None),
                       ("A", "M", "fallzahl", "2024-02", "fünf", None)), "f.xlsx")
    version = fresh_db.data_version()
    with pytest.raises(IngestRefused, match="enthält 1 Fehler und wird nicht geladen"):
        commit(fresh_db, res)
    assert current(fresh_db) == [] and fresh_db.data_version() == version
    assert fresh_db.query("SELECT count(*) FROM kommune")[0][0] == 0
    counts = commit(fresh_db, res, partial=True, user="lotse")
    assert counts.inserted == 1
    assert current(fresh_db) == [("A", "M", "fallzahl", date(2024, 1, 1), 5.0)]
    assert fresh_db.query("SELECT uploaded_by, file_name FROM upload") == [("lotse", "f.xlsx")]


def test_unreadable_file_cannot_be_committed_even_partially(fresh_db):
    res = analyse(b"PK\x03\x04kaputt", "kaputt.xlsx")
    assert res.fatal and res.has_errors
    with pytest.raises(IngestRefused):
        commit(fresh_db, res, partial=True)


def test_preview_then_commit_then_reupload_changes_nothing(fresh_db):
    data = book(("A", "M", "fallzahl", "2024-01", 5, None), ("A", "M", "fallzahl", "2024-02", 6, None))
    res = analyse(data, "f.xlsx")
    p = preview_counts(fresh_db, res)
    assert (p.inserted, p.updated, p.unchanged) == (2, 0, 0) and current(fresh_db) == []
    first = commit(fresh_db, res)
    again = commit(fresh_db, analyse(data, "f.xlsx"))
    assert again.duplicate_of == first.upload_id and again.changes == 0
    assert fresh_db.query("SELECT count(*) FROM measurement_history")[0][0] == 2
    # a corrected file replaces one value and keeps the old one in history
    fixed = analyse(book(("A", "M", "fallzahl", "2024-01", 5, None), ("A", "M", "fallzahl", "2024-02", 7, None)),
                    "f2.xlsx")
    p = preview_counts(fresh_db, fixed)
    assert (p.inserted, p.updated, p.unchanged) == (0, 1, 1)
    commit(fresh_db, fixed)
    assert current(fresh_db)[1][-1] == 7.0
    assert fresh_db.query("SELECT count(*) FROM measurement_history")[0][0] == 3


def test_failure_mid_load_leaves_nothing(fresh_db, monkeypatch):
    data = make_xlsx({
        "Kommunen": [("Kommune", "AGS", "Einwohner"), ("Neustadt", "01234567", 9000)],
        "Kosten": [HEAD, ("Neustadt", "M", "kosten_betrieb_eur", "2024-01", 5, None)],
    })
    res = analyse(data, "f.xlsx")
    assert not res.has_errors

    def boom(*_a, **_k):  # reference data already written in this transaction when this runs
        raise RuntimeError("Stromausfall")

    monkeypatch.setattr(store, "apply_in_transaction", boom)
    with pytest.raises(RuntimeError):
        commit(fresh_db, res)
    assert fresh_db.query("SELECT count(*) FROM kommune")[0][0] == 0
    assert fresh_db.query("SELECT count(*) FROM upload")[0][0] == 0
    assert current(fresh_db) == []


def test_user_defined_kpis_from_the_database_are_known(fresh_db):
    with fresh_db.transaction() as cur:
        cur.execute("INSERT INTO kpi (key, label, unit, family, polarity, aggregation) "
                    "VALUES ('termine', 'Online-Termine', 'Anzahl', 'nutzung', 'higher', 'sum')")
    data = book(("A", None, "Online-Termine", "2024-01", 3, None))
    assert analyse(data, "f.xlsx").has_errors  # the built-in catalog does not know it
    res = pipeline.analyse(data, "f.xlsx", db=fresh_db)
    assert not res.has_errors
    assert res.payload.measurements.column("kpi").to_pylist() == ["termine"]


def test_key_codes_stay_exact_when_their_product_would_overflow():
    import numpy as np

    from kpi.ingest.validate import _combine

    a = np.array([0, 1, 0, 1, 0])
    b = np.array([5, 5, 5, 7, 5])
    big = 2**40  # three such columns would need 2**120 codes: renumbered densely on the way
    code = _combine([(a, big), (b, big), (np.array([1, 1, 1, 1, 2]), big)])
    assert len(set(code.tolist())) == 4 and code[0] == code[2] != code[4]


def test_duplicate_keys_found_across_sheets_and_spellings():
    res = analyse(make_xlsx({
        "Jan": [HEAD, ("A", "M", "fallzahl", "2024-01", 1), ("A", None, "fallzahl", "2024-01", 2)],
        "Feb": [HEAD, ("A", "M", "Fälle (Anträge, Vorgänge)", "Januar 2024", 3)],
    }), "d.xlsx")
    dup = [i.text_de() for i in res.warnings if "Doppelte Zeile" in i.message]
    assert dup == ["Blatt „Jan“, Zeile 2: Doppelte Zeile: derselbe Wert (Kommune, Maßnahme, Kennzahl, Zeitraum) "
                   "steht schon in Blatt „Feb“, Zeile 2; die letzte Zeile gilt"]
    assert not res.keys_unique and res.n_valid_rows == 3


def test_duplicate_report_matches_its_sql_definition():
    # per key, ordered by sheet name and row: every row after the first is reported with that first row
    import duckdb
    import numpy as np
    import pyarrow as pa
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kpi.ingest.validate import IssueSink, _duplicates

    rows = st.lists(st.tuples(st.sampled_from(["Jan", "Feb", "Ä"]), st.integers(2, 30), st.integers(0, 4)),
                    min_size=2, max_size=40)

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(rows)
    def prop(recs):
        ok = pa.table({"sheet": [s for s, _, _ in recs], "row": [r for _, r, _ in recs],
                       "k": [k for _, _, k in recs]})
        sink = IssueSink(Issue)
        unique = _duplicates(ok, sink, np.array([k for _, _, k in recs], dtype=np.int64))
        expected = duckdb.sql(
            """SELECT sheet, row, first_sheet, first_row FROM (
                 SELECT *, first_value(row) OVER w AS first_row, first_value(sheet) OVER w AS first_sheet,
                        row_number() OVER w AS n
                 FROM ok WINDOW w AS (PARTITION BY k ORDER BY sheet, row))
               WHERE n > 1 ORDER BY sheet, row""").fetchall()
        assert unique == (not expected)
        got = [(i.sheet, i.row, i.message) for i in sink.issues]  # at most 40 rows: no "… und N weitere"
        want = [(s, r, f"Doppelte Zeile: derselbe Wert (Kommune, Maßnahme, Kennzahl, Zeitraum) steht schon in "
                       f"Blatt „{fs}“, Zeile {fr}; die letzte Zeile gilt") for s, r, fs, fr in expected]
        assert sorted(got) == sorted(want)
        if len({(s, r) for s, r, _ in recs}) == len(recs):  # rows repeated within one row may come in any order
            assert got == want

    prop()
