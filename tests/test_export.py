"""Exports: every format read back and compared with the database; injection; aggregation; CLI."""

from __future__ import annotations

import io
import math
from datetime import date, datetime

import duckdb
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kpi import export, store
from kpi.cli import main
from kpi.db import open_database
from kpi.filters import Filters
from tests.conftest import frame

CONTRACT = ["kommune", "massnahme", "kpi", "period", "granularity", "value", "unit"]

HOSTILE_KOMMUNE = "=HYPERLINK(\"http://x\",\"klick\")"
HOSTILE_MASSNAHMEN = ("+Bürgerbüro Ölmühle", "@SUMME(A1)", "-Straße")


def _rows(kommune="Bad Mönchhausen", massnahme="Bürgerbüro Ölmühle"):
    return [
        (kommune, massnahme, "fallzahl", "2024-01", 10.0),
        (kommune, massnahme, "fallzahl", "2024-02", 20.0),
        (kommune, massnahme, "fallzahl", "2024-03", 30.0),
        (kommune, massnahme, "bearbeitungszeit_min", "2024-01", 30.0),
        (kommune, massnahme, "bearbeitungszeit_min", "2024-02", 20.0),
        (kommune, massnahme, "bearbeitungszeit_min", "2024-03", 10.0),
        (kommune, massnahme, "zufriedenheit", "2024-01", 3.0),
        (kommune, massnahme, "zufriedenheit", "2024-02", 4.0),
        (kommune, massnahme, "zufriedenheit", "2024-03", 5.0),
        (kommune, massnahme, "bitv_score", "2024-01", 70.0),
        (kommune, massnahme, "bitv_score", "2024-03", 85.5),
        (kommune, massnahme, "kosten_betrieb_eur", "2024-04", 1234.56),
        (kommune, None, "papier_kosten_eur", "2024-02", 0.1),
    ]


@pytest.fixture
def small_db(fresh_db):
    """13 values of one Kommune with umlauts; Q1 2024 plus April."""
    store.apply(fresh_db, frame(_rows()), file_name="t.xlsx", user="test")
    return fresh_db


@pytest.fixture
def hostile_db(fresh_db):
    """Names and notes that a spreadsheet would run as formulas; a negative number."""
    df = frame([(HOSTILE_KOMMUNE, m, "einsparung_sonstige_eur", "2024-01", -5.0) for m in HOSTILE_MASSNAHMEN]
               + [(HOSTILE_KOMMUNE, HOSTILE_MASSNAHMEN[0], "fallzahl", "2024-01", 7.0)])
    df["note"] = ["=1+1", "\tTab", "\rCR", "harmlos - mit Strich"]
    store.apply(fresh_db, df, file_name="boese.xlsx", user="test")
    return fresh_db


def _db_values(db, filters=Filters()):
    where, params = filters.where_sql("v")
    df = db.df(f"SELECT kommune, massnahme, kpi, period, value FROM v_measurement v {where}", params)
    return {(r.kommune, r.massnahme if isinstance(r.massnahme, str) else None, r.kpi, r.period.date()
             if isinstance(r.period, pd.Timestamp) else r.period): r.value for r in df.itertuples()}


def _as_key(kommune, massnahme, kpi, period):
    massnahme = None if massnahme is None or (isinstance(massnahme, float) and math.isnan(massnahme)) else massnahme
    return (kommune, massnahme, kpi, period)


# ------------------------------------------------------------------ formats read back

def test_csv_standard_matches_database_value_by_value(small_db):
    data, name, mime = export.export_bytes(small_db, "csv", Filters())
    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    assert text.splitlines()[0].split(",")[:2] == ["kommune", "massnahme"]
    df = pd.read_csv(io.BytesIO(data), sep=",", dtype={"massnahme": object})
    assert set(CONTRACT) <= set(df.columns)
    got = {_as_key(r.kommune, r.massnahme, r.kpi, date.fromisoformat(r.period)): r.value for r in df.itertuples()}
    assert got == _db_values(small_db)
    assert "1234.56" in text and "2024-04-01" in text  # decimal point, ISO dates
    assert mime == "text/csv" and name == "kpi_alle_2024-01_2024-04.csv"


def test_csv_de_has_bom_semicolons_decimal_commas_german_dates_and_umlauts(small_db):
    data, name, _ = export.export_bytes(small_db, "csv-de", Filters())
    assert data.startswith(b"\xef\xbb\xbf")
    first_line = data[3:].split(b"\n")[0].decode("utf-8")
    assert not first_line.startswith("sep=")
    assert first_line.startswith("kommune;massnahme;")
    df = pd.read_csv(io.BytesIO(data), sep=";", decimal=",", encoding="utf-8-sig", dtype={"massnahme": object})
    assert df["value"].dtype == float
    got = {_as_key(r.kommune, r.massnahme, r.kpi, datetime.strptime(r.period, "%d.%m.%Y").date()): r.value
           for r in df.itertuples()}
    assert got == _db_values(small_db)
    text = data.decode("utf-8-sig")
    assert "Bad Mönchhausen;Bürgerbüro Ölmühle;" in text
    assert ";01.04.2024;" in text and ";1234,56;" in text
    assert name.endswith("_de.csv")


def test_xlsx_has_typed_cells_formats_frozen_header_autofilter_and_info_sheet(small_db):
    f = Filters(kommune=("Bad Mönchhausen",), period_from=date(2024, 1, 1), period_to=date(2024, 12, 1))
    data, name, mime = export.export_bytes(small_db, "xlsx", f, user="analyst")
    assert name == "kpi_bad-moenchhausen_2024-01_2024-12.xlsx"
    assert mime.endswith("spreadsheetml.sheet")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Daten", "Info"]
    ws = wb["Daten"]
    header = [c.value for c in ws[1]]
    assert header[:len(export.DATA_COLUMNS)] == list(export.DATA_COLUMNS)
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:L{ws.max_row}"
    col = {n: i for i, n in enumerate(header)}
    got = {}
    for row in ws.iter_rows(min_row=2):
        period, value = row[col["period"]], row[col["value"]]
        assert isinstance(period.value, datetime) and period.number_format == "dd.mm.yyyy"
        assert isinstance(value.value, float | int) and value.number_format == "#,##0.00"
        got[_as_key(row[0].value, row[1].value, row[col["kpi"]].value, period.value.date())] = value.value
    assert got == _db_values(small_db, f)
    info = dict(wb["Info"].iter_rows(min_row=2, values_only=True))
    assert info["Kommune"] == "Bad Mönchhausen"
    assert info["Zeitraum von"] == "Januar 2024" and info["Zeitraum bis"] == "Dezember 2024"
    upload_id = small_db.query("SELECT max(upload_id) FROM upload")[0][0]
    assert info["Verwendete Uploads"] == str(upload_id)
    stand = small_db.query("SELECT max(uploaded_at) FROM upload")[0][0]
    assert info["Datenstand"] == stand.strftime("%d.%m.%Y")
    assert info["Exportiert von"] == "analyst"
    assert info["Exportiert am"].startswith(datetime.now().strftime("%d.%m.%Y"))
    assert info["Zeilen"] == str(len(got))
    assert info["Reihenfolge"] == "nach Kommune, Maßnahme, Kennzahl, Zeitraum"


def test_parquet_keeps_native_types_and_values(small_db):
    data, name, _ = export.export_bytes(small_db, "parquet", Filters())
    table = pq.read_table(io.BytesIO(data))
    assert str(table.schema.field("period").type) == "date32[day]"
    assert str(table.schema.field("value").type) == "double"
    got = {_as_key(r["kommune"], r["massnahme"], r["kpi"], r["period"]): r["value"] for r in table.to_pylist()}
    assert got == _db_values(small_db)
    assert name.endswith(".parquet")


def test_filters_select_rows_in_every_format(small_db):
    f = Filters(kpi=("fallzahl",), period_from=date(2024, 2, 1))
    for fmt in ("csv", "parquet"):
        data, _, _ = export.export_bytes(small_db, fmt, f)
        df = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pq.read_table(io.BytesIO(data)).to_pandas()
        assert sorted(df["value"]) == [20.0, 30.0]
        assert set(df["kpi"]) == {"fallzahl"}


# ------------------------------------------------------------------ aggregation

def test_quarter_aggregation_uses_each_kpis_rule(small_db):
    df = export.data_frame(small_db, Filters(granularity="quarter"))
    q1 = {r.kpi: r for r in df.itertuples() if r.period == pd.Timestamp(2024, 1, 1) and r.massnahme is not None}
    assert q1["fallzahl"].value == 60.0  # sum: 10 + 20 + 30
    # mean weighted by fallzahl: (30·10 + 20·20 + 10·30) / (10 + 20 + 30) = 1000 / 60
    assert q1["bearbeitungszeit_min"].value == pytest.approx(1000 / 60)
    assert q1["zufriedenheit"].value == 4.0  # mean of 3, 4, 5
    assert q1["bitv_score"].value == 85.5  # last value (March)
    assert q1["fallzahl"].n_values == 3 and q1["fallzahl"].granularity == "quarter"
    q2 = df[(df.kpi == "kosten_betrieb_eur")]
    assert list(q2.period) == [pd.Timestamp(2024, 4, 1)] and list(q2.value) == [1234.56]


def test_year_aggregation_keeps_coarser_rows_and_weighted_mean_falls_back_to_mean(fresh_db):
    rows = [("K", "M", "durchlaufzeit_tage", "2023-01", 4.0), ("K", "M", "durchlaufzeit_tage", "2023-02", 8.0)]
    store.apply(fresh_db, frame(rows), file_name="a", user="t")
    yearly = frame([("K", "M", "kosten_investition_eur", "2022-01", 5000.0)])
    yearly["granularity"] = "year"
    store.apply(fresh_db, yearly, file_name="b", user="t")
    df = export.data_frame(fresh_db, Filters(granularity="quarter"))
    by_kpi = {r.kpi: r for r in df.itertuples()}
    assert by_kpi["durchlaufzeit_tage"].value == 6.0  # no fallzahl: plain mean (4 + 8) / 2
    assert by_kpi["kosten_investition_eur"].granularity == "year"  # a year cannot be split into quarters
    assert export.count_rows(fresh_db, Filters(granularity="year")) == 2


# ------------------------------------------------------------------ formula injection

@pytest.mark.parametrize("fmt", ["csv", "csv-de"])
def test_csv_neutralises_formula_text_and_keeps_negative_numbers(hostile_db, fmt):
    data, _, _ = export.export_bytes(hostile_db, fmt, Filters())
    sep, dec = (",", ".") if fmt == "csv" else (";", ",")
    df = pd.read_csv(io.BytesIO(data), sep=sep, decimal=dec, encoding="utf-8-sig", keep_default_na=False)
    assert set(df["kommune"]) == {"'" + HOSTILE_KOMMUNE}
    assert set(df["massnahme"]) == {"'" + m for m in HOSTILE_MASSNAHMEN}
    assert set(df["note"]) == {"'=1+1", "'\tTab", "'\rCR", "harmlos - mit Strich"}
    assert sorted(df["value"]) == [-5.0, -5.0, -5.0, 7.0]
    assert df["value"].dtype == float


def test_xlsx_neutralises_formula_text_and_keeps_negative_numbers(hostile_db):
    data, _, _ = export.export_bytes(hostile_db, "xlsx", Filters(massnahme=(HOSTILE_MASSNAHMEN[0],)))
    ws = openpyxl.load_workbook(io.BytesIO(data))["Daten"]
    rows = list(ws.iter_rows(min_row=2))
    assert {r[0].value for r in rows} == {"'" + HOSTILE_KOMMUNE}
    assert all(r[0].data_type == "s" for r in rows)  # text, never a formula
    assert {r[1].value for r in rows} == {"'+Bürgerbüro Ölmühle"}
    values = sorted(r[7].value for r in rows)
    assert values == [-5.0, 7.0] and all(r[7].data_type == "n" for r in rows)
    info = dict(openpyxl.load_workbook(io.BytesIO(data))["Info"].iter_rows(min_row=2, values_only=True))
    assert info["Maßnahme"] == "'+Bürgerbüro Ölmühle"


def test_parquet_keeps_names_unchanged(hostile_db):
    data, _, _ = export.export_bytes(hostile_db, "parquet", Filters())
    assert set(pq.read_table(io.BytesIO(data)).column("kommune").to_pylist()) == {HOSTILE_KOMMUNE}


def test_neutralise_only_touches_text():
    assert export.neutralise("=A1") == "'=A1"
    assert export.neutralise("Musterstadt") == "Musterstadt"
    assert export.neutralise(-5.0) == -5.0
    assert export.neutralise(None) is None


# ------------------------------------------------------------------ limits, names, hardening

def test_xlsx_refuses_more_rows_than_excel_holds_with_german_message(small_db, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_DATA_ROWS", 5)
    with pytest.raises(export.ExportError, match="Excel fasst höchstens 5 Datenzeilen"):
        export.export_bytes(small_db, "xlsx", Filters())


def test_file_names_say_what_they_hold():
    f = Filters(kommune=("Bad Münster-Süd",), period_from=date(2024, 1, 1), period_to=date(2024, 12, 1))
    assert export.export_file_name(f, "csv") == "kpi_bad-muenster-sued_2024-01_2024-12.csv"
    assert export.export_file_name(Filters(), "xlsx") == "kpi_alle_beginn_ende.xlsx"
    assert export.export_file_name(f, "parquet", "metrics").startswith("kpi-metriken_bad-muenster-sued_")
    assert export.slug("Straße/Groß") == "strasse-gross"
    with pytest.raises(export.ExportError, match="Unbekanntes Format"):
        export.export_file_name(f, "docx")


def test_export_works_on_a_connection_without_file_access():
    """A connection that may not write files refuses COPY; the rows then stream through a side connection."""
    from kpi.db import Database, ensure_schema

    db = Database(duckdb.connect(":memory:"), ":memory:")
    ensure_schema(db)
    store.apply(db, frame(_rows()), file_name="t.xlsx", user="test")
    db._con.execute("SET enable_external_access = false")  # no allowed_directories at all
    with pytest.raises(duckdb.PermissionException):
        db._con.execute(f"COPY (SELECT 1) TO '{export.export_tmp_root()}/x.csv'")
    for fmt in export.FORMATS:
        data, _, _ = export.export_bytes(db, fmt, Filters())
        assert len(data) > 100
    df = pd.read_csv(io.BytesIO(export.export_bytes(db, "csv", Filters())[0]))
    assert len(df) == 13
    db.close()


def test_temp_files_are_removed_after_export(small_db):
    before = set(export.export_tmp_root().iterdir())
    for fmt in export.FORMATS:
        export.export_bytes(small_db, fmt, Filters())
    assert set(export.export_tmp_root().iterdir()) == before


# ------------------------------------------------------------------ metrics export

def test_metrics_export_has_the_numbers_of_kpi_metrics_json(demo_db):
    from kpi.metrics import engine

    expected = {(r.kommune, r.massnahme): r.to_json() for r in engine.compute_all(demo_db)}
    data, name, _ = export.export_bytes(demo_db, "csv-de", Filters(), what="metrics")
    assert name.startswith("kpi-metriken_alle_")
    df = pd.read_csv(io.BytesIO(data), sep=";", decimal=",", encoding="utf-8-sig")
    assert len(df) == len(expected)
    for r in df.itertuples():
        exp = expected[(r.kommune, r.massnahme)]
        assert r.costs_eur == pytest.approx(exp["costs_eur"])
        if exp["npv_eur"] is None:
            assert math.isnan(r.npv_eur)
        else:
            assert r.npv_eur == pytest.approx(exp["npv_eur"])
        assert r.payback_text_de == exp["payback_text_de"]
    wb = openpyxl.load_workbook(io.BytesIO(export.export_bytes(demo_db, "xlsx", Filters(), what="metrics")[0]))
    header = [c.value for c in wb["Daten"][1]]
    npv_col = header.index("npv_eur")
    assert all(r[npv_col].data_type == "n" for r in wb["Daten"].iter_rows(min_row=2) if r[npv_col].value is not None)
    assert dict(wb["Info"].iter_rows(min_row=2, values_only=True))["Inhalt"] == "Kennzahlen je Maßnahme"


def test_metrics_export_follows_the_kommune_filter(demo_db):
    kommune = demo_db.query("SELECT min(name) FROM kommune")[0][0]
    table = export.metrics_table(demo_db, Filters(kommune=(kommune,)))
    assert set(table.column("kommune").to_pylist()) == {kommune}


# ------------------------------------------------------------------ CLI

def test_cli_export_writes_the_contract_columns(tmp_path, capsys):
    db_path = tmp_path / "k.duckdb"
    db = open_database(db_path)
    store.apply(db, frame(_rows()), file_name="t.xlsx", user="test")
    db.close()
    out = tmp_path / "out.csv"
    code = main(["export", "--db", str(db_path), "--out", str(out), "--kpi", "fallzahl",
                 "--from", "2024-02", "--to", "2024-03"])
    assert code == 0
    assert "2 Zeilen exportiert" in capsys.readouterr().out
    df = pd.read_csv(out)
    assert list(df.columns[:2]) == ["kommune", "massnahme"] and set(CONTRACT) <= set(df.columns)
    assert list(df["period"]) == ["2024-02-01", "2024-03-01"] and list(df["value"]) == [20.0, 30.0]
    for fmt, ext in (("csv-de", "csv"), ("xlsx", "xlsx"), ("parquet", "parquet")):
        target = tmp_path / f"o.{fmt}.{ext}"
        assert main(["export", "--db", str(db_path), "--out", str(target), "--format", fmt]) == 0
        assert target.stat().st_size > 0


def test_cli_export_exit_codes(tmp_path, capsys):
    db_path = tmp_path / "k.duckdb"
    open_database(db_path).close()
    assert main(["export", "--db", str(db_path), "--out", str(tmp_path / "x.csv"), "--from", "März"]) == 2
    assert "JJJJ-MM" in capsys.readouterr().err
    assert main(["export", "--db", str(db_path), "--out", str(tmp_path / "fehlt" / "x.csv")]) == 1
    err = capsys.readouterr().err
    assert "existiert nicht" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["export", "--db", str(db_path), "--out", "x.csv", "--format", "docx"])
    assert exc.value.code == 2


def test_small_exports_are_sorted_and_large_ones_keep_every_row(small_db, monkeypatch):
    df = pd.read_csv(io.BytesIO(export.export_bytes(small_db, "csv", Filters())[0]))
    kpis_in_order = list(dict.fromkeys(df["kpi"]))
    assert kpis_in_order[0] == "papier_kosten_eur"  # the Kommune-wide value comes first
    assert kpis_in_order[1:] == sorted(kpis_in_order[1:])
    fallzahl = df[df["kpi"] == "fallzahl"]["period"].tolist()
    assert fallzahl == sorted(fallzahl)
    monkeypatch.setattr(export, "SORT_ROWS_MAX", 5)
    unsorted = pd.read_csv(io.BytesIO(export.export_bytes(small_db, "csv", Filters())[0]))
    key = ["kommune", "massnahme", "kpi", "period"]
    pd.testing.assert_frame_equal(unsorted.sort_values(key).reset_index(drop=True),
                                  df.sort_values(key).reset_index(drop=True))


@pytest.mark.parametrize("filters", [Filters(), Filters(kommune=("Musterhausen",)),
                                     Filters(massnahme=("Online-Antrag Wohngeld",))])
def test_page_metrics_table_shows_the_values_of_the_metrics_export(demo_db, filters):
    """Daten & Export's table takes its nine columns straight from the engine results; they must be
    the figures of the export (metrics_rows, i.e. `kpi metrics --json`), formatted."""
    from kpi import overview

    overview._MEMO.clear()
    shown = export.metrics_de(demo_db, filters)
    expected = export.metrics_display_de(export.metrics_rows(demo_db, filters))
    assert len(shown) > 0
    pd.testing.assert_frame_equal(shown, expected)


def test_preview_values_of_one_kennzahl_share_their_decimals():
    rows = [("Fallzahl", 12.0, "Fälle"), ("Fallzahl", 14.0, "Fälle"),
            ("Papierkosten", 12.0, "€"), ("Papierkosten", 11.7, "€"), ("Papierkosten", None, "€"),
            ("Bearbeitungszeit", 1234.5, "Min.")]
    df = pd.DataFrame({
        "kommune": ["Musterstadt"] * len(rows), "massnahme": ["E-Akte"] * len(rows),
        "kpi_label": [r[0] for r in rows], "period": [date(2024, 3, 1)] * len(rows),
        "granularity": ["month"] * len(rows), "value": [r[1] for r in rows], "unit": [r[2] for r in rows],
        "n_values": [1] * len(rows), "upload_id": [1] * len(rows), "note": [None] * len(rows)})
    shown = export.display_frame_de(df)
    assert shown["Wert"].tolist() == ["12", "14", "12,00\u00a0€", "11,70\u00a0€", "–", "1.234,50"]
    assert shown["Zeitraum"].tolist()[0] == "März 2024"
