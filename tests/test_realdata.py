"""Each real public file in ../shared/realdata either loads (directly or with a profile defined here)
or is refused with a clear German message: never a traceback, never a silently wrong number."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from kpi.ingest.pipeline import IngestRefused, analyse, commit
from kpi.ingest.profiles import ImportProfile, raw_preview

REAL = Path(os.environ.get("KPI_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))
if not REAL.is_dir():
    REAL = Path("/work/shared/realdata")
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="realdata folder not available")


def load(name: str, profile: ImportProfile | None = None):
    return analyse((REAL / name).read_bytes(), name, profile)


def values(res) -> list[tuple]:
    return sorted((r["kommune"], r["massnahme"], r["kpi"], r["period_start"], r["value"])
                  for r in res.payload.measurements.to_pylist())


def assert_refused(res, needle: str):
    assert res.has_errors
    assert any(needle in e.text_de() for e in res.errors), [e.text_de() for e in res.errors]


def test_files_are_all_covered():
    covered = {
        "hamburg_2019-02-20_Haushaltsdaten_Hamburg.csv", "wuppertal_haushalt.csv",
        "krefeld_2019_Havis_OffenerHaushalt.csv", "ilmenau_HH_IL_2019.csv",
        "finanzrechnungsstatistik-ausgaben-2011.csv", "Zensus_Einwohnerzahlen.xls",
        "band1_p092_PG0115_IT_Management_citeq_Teilergebnisplan_t0.csv",
        "band1_p058_PG0108_Personal_undOrganisationsmanagement_Kennzahlen_t0.csv",
        "DE_ODM_2023.xlsx", "Live-11.11-1.xlsx", "moers_wartezeiten_2014-2017_hourly.csv", "summary-weekly.csv",
    }
    assert {p.name for p in REAL.iterdir() if p.name != "README.md"} == covered


def test_hamburg_budget_with_profile(fresh_db):
    # without a profile: recognised as a long table, but Kommune and KPI are missing → profile step
    res = load("hamburg_2019-02-20_Haushaltsdaten_Hamburg.csv")
    assert res.needs_profile
    assert_refused(res, "Spalte „Kommune“, „Kennzahl“ nicht gefunden (Kopfzeile 1)")
    prof = ImportProfile(header_row=1, map={"value": "Betrag", "period": "Berichtsjahr", "massnahme": "PG"},
                         set={"kommune": "Hamburg", "kpi": "kosten_betrieb_eur"},
                         where={"PG": "IT und Digitalisierung", "Werttyp": "Plan", "Erlöse_Kosten": "Kosten"})
    res = load("hamburg_2019-02-20_Haushaltsdaten_Hamburg.csv", prof)
    assert not res.has_errors and not res.warnings, res.report_de()
    # rows 20402, 20404, 20406, 20408 of the file: "12325874,00" etc. (decimal comma)
    assert [(v[3].year, v[4]) for v in values(res)] == [(2019, 12325874.0), (2020, 12349873.0),
                                                        (2021, 12361476.0), (2022, 12363192.0)]
    assert commit(fresh_db, res).inserted == 4


def test_wuppertal_print_costs_nan_stays_missing():
    prof = ImportProfile(map={"value": "Betrag", "period": "Year", "massnahme": "Produkt"},
                         set={"kommune": "Wuppertal", "kpi": "papier_kosten_eur"},
                         where={"Produkt": "Druckdienste", "Typ": "Aufwendung"})
    res = load("wuppertal_haushalt.csv", prof)
    assert not res.has_errors, res.report_de()
    got = {(v[3].year, v[4]) for v in values(res)}
    assert {(2018, 550478.0), (2019, 550783.23)} <= got  # decimal point in this file
    # 'nan' amounts elsewhere are missing, never 0
    res_all = load("wuppertal_haushalt.csv", ImportProfile(
        map={"value": "Betrag", "period": "Year"}, set={"kommune": "Wuppertal", "kpi": "papier_kosten_eur"}))
    raw_nan = (REAL / "wuppertal_haushalt.csv").read_text(encoding="utf-8").count(",nan,")
    assert raw_nan > 0
    assert res_all.n_rows_read == sum(1 for _ in (REAL / "wuppertal_haushalt.csv").open(encoding="utf-8")) - 1 - raw_nan


def test_krefeld_cp1252_english_headers():
    prof = ImportProfile(map={"massnahme": "2 Level display label"},
                         set={"kommune": "Krefeld", "kpi": "kosten_betrieb_eur"},
                         where={"4 Level display label": "IT-Entwicklungskosten", "Amount Kind": "IST",
                                "2 Level display label": "Verwaltungssteuerung und -service"})
    res = load("krefeld_2019_Havis_OffenerHaushalt.csv", prof)
    assert not res.has_errors, res.report_de()
    # 'Date' and 'Amount' are recognised as period and value
    assert values(res) == [("Krefeld", "Verwaltungssteuerung und -service", "kosten_betrieb_eur",
                            date(2017, 1, 1), 637270.86)]


def test_ilmenau_utf8_bom_edv_account():
    prof = ImportProfile(map={"value": "Betrag", "period": "HH_Jahr"},
                         set={"kommune": "Ilmenau", "kpi": "kosten_betrieb_eur"},
                         where={"Level4_Text": "Ergänzung und Unterhaltung von EDV-Hard- und Software"})
    res = load("ilmenau_HH_IL_2019.csv", prof)
    assert not res.has_errors, res.report_de()
    assert values(res) == [("Ilmenau", None, "kosten_betrieb_eur", date(2019, 1, 1), 116500.0)]


def test_it_nrw_by_column_letters_dash_stays_missing():
    prof = ImportProfile(header_row=0, map={"kommune": "B", "massnahme": "F", "value": "G"},
                         set={"kpi": "kosten_betrieb_eur", "period": "2011"}, where={"C": "7"})
    res = load("finanzrechnungsstatistik-ausgaben-2011.csv", prof)
    assert not res.has_errors, res.report_de()
    got = {v[1]: v[4] for v in values(res)}
    assert got["Verwaltungssteuerung und Service"] == 377989092.0
    # '-' (nothing) in column G: not loaded, and certainly not as 0
    assert "Kirchengemeinden, Religionsgemeinschaften" not in got
    assert {v[0] for v in values(res)} == {"Düsseldorf, krfr. Stadt"}
    # AGS keep their leading zero (text, not a number)
    _names, rows = raw_preview((REAL / "finanzrechnungsstatistik-ausgaben-2011.csv").read_bytes(),
                               "finanzrechnungsstatistik-ausgaben-2011.csv", nrows=10)
    assert rows[8][0] == "05111000"


def test_muenster_wide_plan_with_trailing_minus():
    prof = ImportProfile(map={}, set={"kommune": "Münster", "kpi": "kosten_betrieb_eur",
                                      "massnahme": "IT-Management citeq"},
                         where={"B": "= OrdentlichesErgebnis(=Zeilen10und17)"})
    res = load("band1_p092_PG0115_IT_Management_citeq_Teilergebnisplan_t0.csv", prof)
    assert not res.has_errors, res.report_de()
    # "310.964,69-", 0, "8.000-" …: trailing minus, German thousands (8.000 is 8000, not 8)
    assert [(v[3].year, v[4]) for v in values(res)] == [
        (2024, -310964.69), (2025, 0.0), (2026, -8000.0), (2027, -8000.0), (2028, -8000.0),
        (2029, -8000.0), (2030, -8000.0)]


def test_muenster_broken_extraction_is_refused(fresh_db):
    res = load("band1_p058_PG0108_Personal_undOrganisationsmanagement_Kennzahlen_t0.csv")
    assert_refused(res, "nicht gefunden")
    # even when the user maps it, the merged cells are reported as not numbers, nothing wrong loads
    prof = ImportProfile(set={"kommune": "Münster", "kpi": "fallzahl"})
    res = load("band1_p058_PG0108_Personal_undOrganisationsmanagement_Kennzahlen_t0.csv", prof)
    assert_refused(res, "„6.761 820 33 4.110 2.651 371 437.726“ ist keine Zahl")
    with pytest.raises(IngestRefused):
        commit(fresh_db, res)
    assert fresh_db.query("SELECT count(*) FROM measurement")[0][0] == 0


def test_eu_questionnaire_refused_without_traceback():
    res = load("DE_ODM_2023.xlsx")
    assert res.needs_profile
    assert_refused(res, "Keine Tabelle mit Kennzahlen erkannt")


def test_ozg_list_refused_and_ids_stay_digits():
    res = load("Live-11.11-1.xlsx")
    assert res.needs_profile
    assert_refused(res, "Keine Tabelle mit Kennzahlen erkannt")
    _names, rows = raw_preview((REAL / "Live-11.11-1.xlsx").read_bytes(), "Live-11.11-1.xlsx", nrows=20)
    cells = [c for r in rows for c in r]
    ids = [c for c in cells if c.isdigit() and len(c) == 14]
    assert ids, rows[:3]
    assert not any("E+" in c or "e+" in c for c in cells)


def test_zensus_xls_refused_clearly():
    res = load("Zensus_Einwohnerzahlen.xls")
    assert res.sheets[0] == "Inhalt"
    assert res.needs_profile and res.has_errors
    assert all(e.message for e in res.errors)


def test_moers_weeks_and_hours_refused():
    res = load("moers_wartezeiten_2014-2017_hourly.csv")
    assert res.needs_profile
    assert_refused(res, "Keine Tabelle mit Kennzahlen erkannt")


def test_office_schedule_iso_weeks_never_become_months():
    res = load("summary-weekly.csv")
    assert res.needs_profile
    prof = ImportProfile(map={"period": "week", "value": "num_appointments", "massnahme": "source_id"},
                         set={"kommune": "Bonn", "kpi": "online_faelle"}, where={"source_id": "bonn"})
    res = load("summary-weekly.csv", prof)
    assert_refused(res, "ist eine Kalenderwoche")
    assert res.n_valid_rows == 0  # '2021-05' would otherwise have become May
