"""The Excel template: German sheets, dropdowns and number ranges, example rows skipped, round trip."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest

from kpi import catalog
from kpi.ingest.pipeline import analyse, commit
from kpi.ingest.template import template_bytes, write_template


@pytest.fixture(scope="module")
def tpl() -> bytes:
    return template_bytes()


def test_sheets_and_headers(tpl):
    wb = openpyxl.load_workbook(io.BytesIO(tpl))
    assert wb.sheetnames == ["Anleitung", "Kommunen", "Maßnahmen", "Papier", "Bearbeitung", "Barrierefreiheit",
                             "Kosten", "Nutzung", "Ziele", "Ausgangswerte", "Plan", "Parameter", "Kriterien",
                             "Bewertung", "Kennzahlen", "Listen"]
    assert wb["Listen"].sheet_state == "hidden"
    header = [c.value for c in wb["Kosten"][1]]
    assert header == ["Kommune", "Maßnahme", "Kennzahl", "Zeitraum", "Wert", "Bemerkung"]
    assert [c.value for c in wb["Maßnahmen"][1]] == ["Kommune", "Maßnahme", "Handlungsfeld", "Start",
                                                     "Inbetriebnahme", "Laufbahn", "Geplanter Kapitalwert (€)"]
    assert "Beispielstadt" in " ".join(str(r[0].value) for r in wb["Anleitung"].iter_rows())
    # parameters prefilled with the catalog defaults
    params = {r[0].value: r[3].value for r in wb["Parameter"].iter_rows(min_row=2)}
    assert params == {p.key: p.value for p in catalog.PARAMETER_DEFAULTS}
    assert [r[0].value for r in wb["Kennzahlen"].iter_rows(min_row=2)] == [k.key for k in catalog.KPIS]


def test_dropdowns_and_number_ranges(tpl):
    wb = openpyxl.load_workbook(io.BytesIO(tpl))

    def validations(ws):
        return {(dv.type, str(dv.sqref), dv.formula1, dv.formula2) for dv in ws.data_validations.dataValidation}

    kosten = validations(wb["Kosten"])
    lists = wb["Listen"]
    fam_col = next(c for c in "HIJKL" if lists[f"{c}1"].value == "kosten_investition_eur")
    assert ("list", "C2:C2000", f"Listen!${fam_col}$1:${fam_col}$4", None) in kosten
    assert ("decimal", "E2:E2000", "0", None) in kosten
    assert ("list", "C2:C2000", f"Listen!$A$1:$A${len(catalog.HANDLUNGSFELDER)}", None) in validations(
        wb["Maßnahmen"])
    assert [lists[f"A{i + 1}"].value for i in range(len(catalog.HANDLUNGSFELDER))] == list(catalog.HANDLUNGSFELDER)
    assert ("decimal", "D2:D2000", "0", "10") in validations(wb["Bewertung"])
    assert ("whole", "C2:C2000", "1990", "2100") in validations(wb["Plan"])


def test_blank_template_loads_only_the_defaults_and_skips_examples(tpl, fresh_db):
    res = analyse(tpl, "vorlage.xlsx")
    assert not res.has_errors, res.report_de()
    assert res.n_valid_rows == 0  # the example rows (Beispielstadt) are skipped
    commit(fresh_db, res)
    assert fresh_db.query("SELECT count(*) FROM kommune WHERE name = 'Beispielstadt'")[0][0] == 0
    # the prefilled parameters equal the seeded ones: no new versions
    assert fresh_db.query("SELECT count(*) FROM parameter")[0][0] == len(catalog.PARAMETER_DEFAULTS)


def test_round_trip_fill_upload_load(tpl, fresh_db):
    wb = openpyxl.load_workbook(io.BytesIO(tpl))
    wb["Kommunen"].append(["Musterstadt", "05315000", 50000])
    wb["Maßnahmen"].append(["Musterstadt", "E-Akte", "Verwaltung", date(2023, 1, 1), date(2023, 7, 1),
                            "mittlerer Dienst", 10000])
    wb["Bearbeitung"].append(["Musterstadt", "E-Akte", "fallzahl", "2024-03", 100, None])
    wb["Bearbeitung"].append(["Musterstadt", "E-Akte", "bearbeitungszeit_min", "März 2024", "32,5", None])
    wb["Nutzung"].append(["Musterstadt", "E-Akte", "online_faelle", date(2024, 3, 1), 40, "Zählung"])
    wb["Kosten"].append(["Musterstadt", "E-Akte", "kosten_betrieb_eur", "Q1 2024", "1.234,50", None])
    wb["Papier"].append(["Musterstadt", None, "papier_seiten", "2024", 12000, None])
    wb["Barrierefreiheit"].append(["Musterstadt", "E-Akte", "bitv_score", "2024-03", 91, None])
    wb["Ziele"].append(["Musterstadt", "E-Akte", "online_faelle", 80, date(2025, 12, 31), 10])
    wb["Ausgangswerte"].append(["Musterstadt", "E-Akte", "bearbeitungszeit_min", 45, "Messung 2022"])
    wb["Plan"].append(["Musterstadt", "E-Akte", 2024, 5000, 2000])
    wb["Parameter"].append(["discount_rate", "Kalkulationszinssatz", "Anteil", 0.025, date(2024, 1, 1), "BMF 2024"])
    wb["Bewertung"].append(["Musterstadt", "E-Akte", "Barrierefreiheit", 7])
    wb["Kennzahlen"].append(["termine_online", "Online gebuchte Termine", "Anzahl", "nutzung",
                             "höher ist besser", "Summe", 0, None])
    wb["Nutzung"].append(["Musterstadt", None, "Online gebuchte Termine", "Q1 2024", 300, None])
    buf = io.BytesIO()
    wb.save(buf)
    res = analyse(buf.getvalue(), "gefuellt.xlsx")
    assert not res.has_errors, res.report_de()
    counts = commit(fresh_db, res, user="lotse")
    assert counts.inserted == 7
    assert fresh_db.query(
        "SELECT massnahme, kpi, period, granularity, value FROM v_measurement ORDER BY kpi") == [
        ("E-Akte", "bearbeitungszeit_min", date(2024, 3, 1), "month", 32.5),
        ("E-Akte", "bitv_score", date(2024, 3, 1), "month", 91.0),
        ("E-Akte", "fallzahl", date(2024, 3, 1), "month", 100.0),
        ("E-Akte", "kosten_betrieb_eur", date(2024, 1, 1), "quarter", 1234.5),
        ("E-Akte", "online_faelle", date(2024, 3, 1), "month", 40.0),
        (None, "papier_seiten", date(2024, 1, 1), "year", 12000.0),
        (None, "termine_online", date(2024, 1, 1), "quarter", 300.0),
    ]
    assert fresh_db.query("SELECT name, ags, einwohner FROM kommune") == [("Musterstadt", "05315000", 50000)]
    assert fresh_db.query("SELECT name, handlungsfeld, start_date, golive_date, laufbahn, planned_npv_eur "
                          "FROM massnahme") == [("E-Akte", "Verwaltung", date(2023, 1, 1), date(2023, 7, 1),
                                                 "mittel", 10000.0)]
    assert fresh_db.query("SELECT kpi, target_value, target_date, start_value FROM target") == [
        ("online_faelle", 80.0, date(2025, 12, 31), 10.0)]
    assert fresh_db.query("SELECT kpi, value, source FROM baseline") == [("bearbeitungszeit_min", 45.0, "Messung 2022")]
    assert fresh_db.query("SELECT year, costs_eur, benefits_eur FROM plan") == [(2024, 5000.0, 2000.0)]
    assert fresh_db.query("SELECT criterion, score FROM score") == [("Barrierefreiheit", 7.0)]
    assert fresh_db.query("SELECT value, valid_from, source FROM parameter WHERE key = 'discount_rate' "
                          "ORDER BY valid_from DESC LIMIT 1") == [(0.025, date(2024, 1, 1), "BMF 2024")]
    assert fresh_db.query("SELECT label, family, polarity, aggregation, builtin FROM kpi "
                          "WHERE key = 'termine_online'") == [("Online gebuchte Termine", "nutzung", "higher",
                                                               "sum", False)]
    # uploading the same filled template again changes nothing
    again = commit(fresh_db, analyse(buf.getvalue(), "gefuellt.xlsx"))
    assert again.changes == 0 and again.duplicate_of == counts.upload_id


def test_reference_sheet_errors_name_the_cell(tpl):
    wb = openpyxl.load_workbook(io.BytesIO(tpl))
    wb["Kommunen"].append(["Musterstadt", "12345", "viele"])
    wb["Maßnahmen"].append(["Musterstadt", "E-Akte", "Verwaltung", "gestern", None, None, None])
    wb["Kriterien"].append(["Nachhaltigkeit", 10])
    buf = io.BytesIO()
    wb.save(buf)
    res = analyse(buf.getvalue(), "x.xlsx")
    assert [e.text_de() for e in res.errors] == [
        "Blatt „Kommunen“, Zelle B3: „12345“ ist kein Amtlicher Gemeindeschlüssel (8 Ziffern)",
        "Blatt „Kommunen“, Zelle C3: „viele“ ist keine ganze Zahl größer 0",
        "Blatt „Maßnahmen“, Zelle D3: „gestern“ ist kein Datum (z. B. 01.03.2024)",
        "Blatt „Kriterien“: Die Gewichte der Kriterien ergeben 110 %, sie müssen zusammen 100 % ergeben.",
    ]


def test_write_template(tmp_path):
    path = write_template(tmp_path / "sub" / "v.xlsx")
    assert path.read_bytes()[:2] == b"PK"
