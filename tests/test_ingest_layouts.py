"""Layouts and formats users already have: long and wide tables, title/spacer/totals rows, merged
headers, synonyms, CSV encodings and delimiters, import profiles. Workbooks are built in code."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest

from kpi.ingest.pipeline import analyse
from kpi.ingest.profiles import ImportProfile, raw_preview


def make_xlsx(sheets: dict[str, list[tuple]], merges: dict[str, list[str]] | None = None,
              start: str = "A1") -> bytes:
    """Workbook from visible rows per sheet; `start` moves the rows (e.g. 'C3'); merges per sheet."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    col0 = ord(start[0]) - 65
    row0 = int(start[1:])
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is not None:
                    ws.cell(row=row0 + r, column=col0 + c + 1, value=v)
        for rng in (merges or {}).get(name, []):
            ws.merge_cells(rng)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rows_of(result) -> list[tuple]:
    """Loaded rows as (kommune, massnahme, kpi, 'YYYY-MM-DD', granularity, value), sorted."""
    rows = [(r["kommune"], r["massnahme"], r["kpi"], r["period_start"].isoformat(), r["granularity"],
             r["value"]) for r in result.payload.measurements.to_pylist()]
    return sorted(rows, key=lambda r: tuple("" if x is None else str(x) for x in r))


def test_long_table_with_title_spacer_totals_and_synonyms():
    data = make_xlsx({"Daten": [
        ("Kennzahlen der Digitalisierung 2024",),
        ("Stand: 31.03.2024",),
        (),
        ("Gemeinde", "Projekt", "Indikator", "Zeitraum", "Betrag (€)", "Bemerkung"),
        (),
        ("Musterstadt", "E-Akte", "fallzahl", datetime(2024, 1, 1), 120, None),
        ("Musterstadt", "E-Akte", "  FÄLLE (Anträge, Vorgänge) ", "Februar 2024", "1.234,5", "geschätzt"),
        ("Musterstadt", None, "Papier-, Druck-, Porto- und Archivkosten", "Q1 2024", "1.200 €", None),
        (),
        ("Summe", None, None, None, 2554.5, None),
    ]}, merges={"Daten": ["A1:F1"]})
    res = analyse(data, "lang.xlsx")
    assert not res.has_errors, res.report_de()
    assert res.layouts == ["Blatt „Daten“: lange Tabelle (Kopfzeile 4)"]
    assert rows_of(res) == [
        ("Musterstadt", None, "papier_kosten_eur", "2024-01-01", "quarter", 1200.0),
        ("Musterstadt", "E-Akte", "fallzahl", "2024-01-01", "month", 120.0),
        ("Musterstadt", "E-Akte", "fallzahl", "2024-02-01", "month", 1234.5),
    ]
    [w] = res.warnings
    assert w.text_de() == "Blatt „Daten“, Zeile 10: Summenzeile übersprungen (Summen berechnet das Programm selbst)."
    assert res.payload.measurements.column("note").to_pylist()[1] == "geschätzt"


def test_table_not_starting_at_a1_keeps_excel_cell_references():
    data = make_xlsx({"Kosten": [
        ("Kommune", "Kennzahl", "Monat", "Wert"),
        ("Musterstadt", "kosten_betrieb_eur", "2024-01", 10),
        ("Musterstadt", "kosten_betrieb_eur", "2024-02", "zwölf"),
    ]}, start="C3")
    res = analyse(data, "versetzt.xlsx")
    [err] = res.errors
    assert err.text_de() == "Blatt „Kosten“, Zelle F5: „zwölf“ ist keine Zahl"
    assert (err.row, err.column, err.cell) == (5, "F", "F5")


def test_cell_references_stay_right_when_the_first_rows_hold_long_texts():
    # 300 rows with 2 KB notes written inline: the first 200 rows lie beyond the first 256 KB of XML
    from tests.corpus import make_corpus as mc

    rows = [[], [], [None, None, "Kommune", "Kennzahl", "Monat", "Wert", "Bemerkung"]]
    rows += [[None, None, "Musterstadt", "fallzahl", f"{2000 + i // 12}-{i % 12 + 1:02d}", i, "x" * 2000]
             for i in range(300)]
    rows.append([None, None, "Musterstadt", "fallzahl", "2030-01", "zwölf"])
    res = analyse(mc.xlsx({"Notizen": mc.sheet_xml(rows)}), "notizen.xlsx")
    [err] = res.errors
    assert err.text_de() == "Blatt „Notizen“, Zelle F304: „zwölf“ ist keine Zahl"


def test_wide_table_one_column_per_period():
    data = make_xlsx({"Übersicht": [
        ("Kommune: Musterhausen",),
        (),
        ("Maßnahme", "Kennzahl", "Jan 2024", "Feb 2024", datetime(2024, 3, 1), "Einheit"),
        ("Wohngeld online", "fallzahl", 100, 110, "-", "Anzahl"),
        ("Wohngeld online", "online_faelle", 40, ".", 60, "Anzahl"),
        ("Gesamt", None, 140, 110, 60, None),
    ]})
    res = analyse(data, "breit.xlsx")
    assert not res.has_errors, res.report_de()
    assert res.layouts == ["Blatt „Übersicht“: breite Tabelle, 3 Zeitraum-Spalten (Kopfzeile 3)"]
    # '-' and '.' are missing values, never 0
    assert rows_of(res) == [
        ("Musterhausen", "Wohngeld online", "fallzahl", "2024-01-01", "month", 100.0),
        ("Musterhausen", "Wohngeld online", "fallzahl", "2024-02-01", "month", 110.0),
        ("Musterhausen", "Wohngeld online", "online_faelle", "2024-01-01", "month", 40.0),
        ("Musterhausen", "Wohngeld online", "online_faelle", "2024-03-01", "month", 60.0),
    ]
    assert [w.message[:12] for w in res.warnings] == ["Summenzeile "]


def test_wide_table_with_merged_year_above_month_columns():
    data = make_xlsx({"Werte": [
        ("Kommune", "Kennzahl", 2024, None, None),
        (None, None, "Jan", "Feb", "Mär"),
        ("Musterstadt", "bitv_score", 80, 82, 85),
    ]}, merges={"Werte": ["C1:E1", "A1:A2", "B1:B2"]})
    res = analyse(data, "merged.xlsx")
    assert not res.has_errors, res.report_de()
    assert [r[3] for r in rows_of(res)] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert [r[5] for r in rows_of(res)] == [80.0, 82.0, 85.0]


def test_one_column_per_kpi():
    data = make_xlsx({"Monate": [
        ("Kommune", "Maßnahme", "Monat", "fallzahl", "Davon online eingegangen"),
        ("Musterstadt", "Kfz", "2024-01", 50, 20),
        ("Musterstadt", "Kfz", "2024-02", 60, 30),
    ]})
    res = analyse(data, "kpispalten.xlsx")
    assert not res.has_errors, res.report_de()
    assert rows_of(res) == [
        ("Musterstadt", "Kfz", "fallzahl", "2024-01-01", "month", 50.0),
        ("Musterstadt", "Kfz", "fallzahl", "2024-02-01", "month", 60.0),
        ("Musterstadt", "Kfz", "online_faelle", "2024-01-01", "month", 20.0),
        ("Musterstadt", "Kfz", "online_faelle", "2024-02-01", "month", 30.0),
    ]


def test_excel_number_and_german_text_that_render_alike():
    data = make_xlsx({"D": [
        ("Kommune", "Kennzahl", "Jahr", "Wert"),
        ("A", "durchlaufzeit_tage", 2023, 1.234),  # an Excel number: 1,234 days
        ("A", "papier_seiten", 2023, "1.234"),  # German text: 1234 pages
    ]})
    res = analyse(data, "mehrdeutig.xlsx")
    assert [r[5] for r in rows_of(res)] == [1.234, 1234.0]


def test_xlsm_is_read_like_xlsx():
    data = make_xlsx({"D": [("Kommune", "Kennzahl", "Monat", "Wert"), ("A", "fallzahl", "2024-01", 1)]})
    res = analyse(data, "makros.xlsm")
    assert rows_of(res) == [("A", None, "fallzahl", "2024-01-01", "month", 1.0)]


@pytest.mark.parametrize("encoding,bom,sep", [("cp1252", False, ";"), ("utf-8", True, ";"),
                                              ("utf-8", False, ","), ("iso-8859-1", False, "\t")])
def test_csv_encodings_and_delimiters(encoding, bom, sep):
    if sep == ",":
        lines = ["Kommune,Maßnahme,Kennzahl,Monat,Wert", "Großstadt,Bürgerbüro,fallzahl,2024-01,1234.5",
                 'Großstadt,Bürgerbüro,online_faelle,März 2024,"1,200.0"']
        want = [1234.5, 1200.0]
    else:
        lines = [sep.join(["Kommune", "Maßnahme", "Kennzahl", "Monat", "Wert"]),
                 sep.join(["Großstadt", "Bürgerbüro", "fallzahl", "2024-01", "1.234,5"]),
                 sep.join(["Großstadt", "Bürgerbüro", "online_faelle", "März 2024", "1.200"])]
        want = [1234.5, 1200.0]
    raw = ("\r\n".join(lines) + "\r\n").encode(encoding)
    if bom:
        raw = b"\xef\xbb\xbf" + raw
    res = analyse(raw, "daten.csv")
    assert not res.has_errors, res.report_de()
    got = rows_of(res)
    assert [r[0] for r in got] == ["Großstadt", "Großstadt"] and got[0][1] == "Bürgerbüro"
    assert [r[5] for r in got] == want


def test_profile_with_column_letters_constants_and_filter():
    raw = "\n".join([
        "Auszahlungen 2011;;;",
        "05111000;Düsseldorf;111;1000",
        "05111000;Düsseldorf;121;.",
        "05113000;Essen;111;-",
        "05113000;Essen;121;2500",
    ]).encode("cp1252")
    prof = ImportProfile(header_row=0, map={"kommune": "B", "value": "D"},
                         set={"kpi": "kosten_betrieb_eur", "period": "2011"}, where={"C": "111"})
    res = analyse(raw, "genesis.csv", prof)
    assert not res.has_errors, res.report_de()
    # Essen's 111 is '-' (nothing): missing, not 0
    assert rows_of(res) == [("Düsseldorf", None, "kosten_betrieb_eur", "2011-01-01", "year", 1000.0)]


def test_profile_by_header_text_and_sheet():
    data = make_xlsx({
        "Info": [("nur Text",)],
        "Export": [("Ticket-Export",), ("Amt", "Monat", "Anzahl Tickets", "Typ"),
                   ("Bürgeramt", "2024-01", 10, "neu"), ("Bürgeramt", "2024-01", 99, "alt")],
    })
    prof = ImportProfile(sheet="Export", header_row=2, map={"massnahme": "amt", "value": "Anzahl Tickets"},
                         set={"kommune": "Musterstadt", "kpi": "fallzahl"}, where={"Typ": "neu"})
    res = analyse(data, "tickets.xlsx", prof)
    assert not res.has_errors, res.report_de()
    assert rows_of(res) == [("Musterstadt", "Bürgeramt", "fallzahl", "2024-01-01", "month", 10.0)]


def test_profile_naming_a_missing_column_or_sheet_is_a_german_error():
    data = make_xlsx({"A": [("Kommune", "Wert"), ("X", 1)]})
    res = analyse(data, "x.xlsx", ImportProfile(header_row=1, map={"value": "Betrag"}))
    assert res.has_errors and res.errors[0].message.startswith("Spalte „Betrag“ gibt es in Blatt „A“ nicht")
    res = analyse(data, "x.xlsx", ImportProfile(sheet="Kosten"))
    assert res.errors[0].message == "Blatt „Kosten“ gibt es nicht. Vorhanden: „A“."


def test_unrecognised_layout_asks_for_a_profile():
    data = make_xlsx({"Liste": [("Leistung", "Schlüssel", "URL"), ("Hund anmelden", 99001001000000, "x")]})
    res = analyse(data, "liste.xlsx")
    assert res.needs_profile and res.has_errors
    assert "Spalten zuordnen" in res.errors[-1].message


def test_single_kommune_file_without_kommune_asks_for_it():
    data = make_xlsx({"D": [("Kennzahl", "Monat", "Wert"), ("fallzahl", "2024-01", 5)]})
    res = analyse(data, "ohne.xlsx")
    assert res.needs_profile
    assert res.errors[0].text_de().startswith("Blatt „D“: Spalte „Kommune“ nicht gefunden (Kopfzeile 1)")
    res = analyse(data, "ohne.xlsx", ImportProfile(set={"kommune": "Musterstadt"}))
    assert rows_of(res) == [("Musterstadt", None, "fallzahl", "2024-01-01", "month", 5.0)]


def test_raw_preview_shows_excel_rows_and_letters_and_keeps_long_ids():
    data = make_xlsx({"S": [("Titel",), ("ID", "Wert"), (99051002012000, 5)]}, start="B2")
    names, rows = raw_preview(data, "ids.xlsx", nrows=4)
    assert names == ["S"]
    assert rows[0] == ["", "", ""]  # Excel row 1 is empty; columns A (empty), B, C
    assert rows[1][:2] == ["", "Titel"]
    assert rows[3][:3] == ["", "99051002012000", "5"]  # 14-digit IDs stay digits, no 9.9E+13


def test_period_in_year_and_quarter_columns_of_a_long_table():
    data = make_xlsx({"J": [("Stadt", "KPI", "Jahr", "Wert"), ("A", "zufriedenheit", 2023, "4,2"),
                            ("A", "zufriedenheit", "1. Quartal 2024", 4.5)]})
    res = analyse(data, "jahr.xlsx")
    assert rows_of(res) == [("A", None, "zufriedenheit", "2023-01-01", "year", 4.2),
                            ("A", None, "zufriedenheit", "2024-01-01", "quarter", 4.5)]


def test_excel_dates_as_periods_round_to_their_month():
    data = make_xlsx({"J": [("Kommune", "Kennzahl", "Datum", "Wert"),
                            ("A", "fallzahl", date(2024, 5, 31), 1)]})
    assert rows_of(analyse(data, "d.xlsx"))[0][3:5] == ("2024-05-01", "month")


def test_footer_left_of_the_table_keeps_cell_references():
    rows = [("Kommune", "Kennzahl", "Monat", "Wert")] + [("A", "fallzahl", f"2020-{m:02d}", m) for m in range(1, 13)] * 20
    rows[5] = ("A", "fallzahl", "2020-05", "fünf")
    data = make_xlsx({"D": [(None, *r) for r in rows] + [("Quelle: Fachamt",)]})  # table in B, footer in A
    res = analyse(data, "fuss.xlsx")
    assert [e.cell for e in res.errors] == ["E6"]
