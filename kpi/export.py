"""Filtered exports of measurements and metrics: CSV, CSV for German Excel, XLSX, Parquet.

The long data table comes from view `v_measurement`, filtered by `kpi.filters.Filters` and
optionally aggregated to quarters or years in SQL with each KPI's aggregation rule.
CSV and Parquet are written by DuckDB's `COPY … TO` into a private temp directory (the only
directory a hardened connection needs to be allowed to write, see `export_tmp_root`);
if the connection refuses file access, the rows stream as Arrow batches into a separate
in-memory connection that may write there. XLSX streams through xlsxwriter's
constant-memory mode. Text cells that a spreadsheet would run as a formula are prefixed
with an apostrophe (OWASP CSV injection) in CSV and XLSX; numbers stay numbers.
"""

from __future__ import annotations

import math
import re
import shutil
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from kpi.db import Database, audit_now, export_tmp_root, latest_upload_time, sql_literal
from kpi.filters import Filters
from kpi.fmt import date_de, datetime_de, number_de

FORMATS: dict[str, tuple[str, str, str]] = {
    # key: (extension, MIME type, German label for buttons)
    "csv": (".csv", "text/csv", "CSV (Standard)"),
    "csv-de": (".csv", "text/csv", "CSV für Excel (Deutsch)"),
    "xlsx": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel (XLSX)"),
    "parquet": (".parquet", "application/vnd.apache.parquet", "Parquet"),
}

XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, header row included
XLSX_MAX_DATA_ROWS = XLSX_MAX_ROWS - 1

# Columns of the long data table, in file order (the `kpi export` contract is a subset).
DATA_COLUMNS = ("kommune", "massnahme", "handlungsfeld", "kpi", "kpi_label", "period", "granularity",
                "value", "unit", "n_values", "upload_id", "note")
# Free-text columns that can carry a formula; `kpi` keys are constrained to [a-z0-9_].
_TEXT_COLUMNS = ("kommune", "massnahme", "handlungsfeld", "kpi_label", "unit", "note")
_INJECTION_CHARS = ("=", "+", "-", "@", "\t", "\r")

SORT_ROWS_MAX = 200_000  # exports above this keep storage order (see _write_data)
_GRANULARITY_RANK = {"month": 1, "quarter": 2, "year": 3}
_BATCH_ROWS = 65_536


class ExportError(ValueError):
    """An export that cannot be made (German message)."""


@dataclass
class ExportResult:
    """What an export produced: the bytes, a file name saying what they hold, the MIME type, rows."""

    data: bytes
    file_name: str
    mime: str
    rows: int


# ---------------------------------------------------------------- formula injection


def neutralise(text):
    """Ensure a text that a spreadsheet would run as a formula starts with an apostrophe (None stays None)."""
    if isinstance(text, str) and text.startswith(_INJECTION_CHARS):
        return "'" + text
    return text


def _safe_sql(column: str) -> str:
    """SQL expression: `column` with the OWASP apostrophe prefix; `column` is from a fixed list."""
    return (f"CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
            f"THEN '''' || {column} ELSE {column} END")


# ---------------------------------------------------------------- SQL

def data_sql(filters: Filters, style: str = "plain", sort: bool = True) -> tuple[str, dict]:
    """Return (SELECT, params) of the filtered long table in `style` plain | safe | csv-de.

    plain: native types (Parquet); safe: native types, text neutralised (CSV, XLSX);
    csv-de: like safe, with decimal commas as text (DuckDB's CSV writer has no decimal-separator
    option for writing; dates are formatted by its DATEFORMAT option, see `_copy_options`).
    Rows finer than the filter's granularity are aggregated by the KPI's rule; coarser rows stay.
    sort: by Kommune, Maßnahme, KPI, period (ids, in load order); False keeps storage order.
    """
    if style not in ("plain", "safe", "csv-de"):
        raise ValueError(f"unknown style {style!r}")
    where, params = filters.where_sql("v")
    gran = filters.granularity
    if gran == "month":
        inner = f"""
            SELECT v.kommune, v.massnahme, v.handlungsfeld, v.kpi, v.kpi_label, v.period, v.granularity,
                   v.value, v.unit, 1::BIGINT AS n_values, v.upload_id, v.note,
                   v.kommune_id, v.massnahme_id
            FROM v_measurement v {where}"""
    else:
        params = dict(params, gran=gran, grank=_GRANULARITY_RANK[gran])
        # wmean_fallzahl: weights are the fallzahl of the same Maßnahme and period; months
        # without a fallzahl carry no weight; with no weight at all the plain mean is used.
        inner = f"""
            WITH base AS (
                SELECT v.*, c.aggregation,
                       (CASE v.granularity WHEN 'month' THEN 1 WHEN 'quarter' THEN 2 ELSE 3 END)
                           <= $grank AS finer
                FROM v_measurement v JOIN kpi c ON c.key = v.kpi {where}
            ), b AS (
                SELECT base.*,
                       CASE WHEN finer THEN CAST(date_trunc($gran, base.period) AS DATE)
                            ELSE base.period END AS out_period,
                       CASE WHEN finer THEN $gran ELSE base.granularity END AS out_gran,
                       f.value AS weight
                FROM base
                LEFT JOIN measurement f
                  ON base.aggregation = 'wmean_fallzahl' AND f.kpi = 'fallzahl'
                 AND f.kommune_id = base.kommune_id
                 AND f.massnahme_id IS NOT DISTINCT FROM base.massnahme_id
                 AND f.period_start = base.period AND f.granularity = base.granularity
            )
            SELECT any_value(kommune) AS kommune, any_value(massnahme) AS massnahme,
                   any_value(handlungsfeld) AS handlungsfeld, kpi, any_value(kpi_label) AS kpi_label,
                   out_period AS period, out_gran AS granularity,
                   CASE any_value(aggregation)
                     WHEN 'sum' THEN sum(value)
                     WHEN 'mean' THEN avg(value)
                     WHEN 'wmean_fallzahl' THEN coalesce(
                         sum(value * weight) / nullif(sum(weight) FILTER (WHERE weight IS NOT NULL), 0),
                         avg(value))
                     ELSE arg_max(value, period)
                   END AS value,
                   any_value(unit) AS unit, count(*)::BIGINT AS n_values, max(upload_id) AS upload_id,
                   string_agg(DISTINCT note, '; ') AS note, kommune_id, massnahme_id
            FROM b
            GROUP BY kommune_id, massnahme_id, kpi, out_period, out_gran"""

    cols = []
    for c in DATA_COLUMNS:
        expr = f"x.{c}"
        if style != "plain" and c in _TEXT_COLUMNS:
            expr = _safe_sql(expr)
        if style == "csv-de" and c == "value":
            expr = "replace(CAST(x.value AS VARCHAR), '.', ',')"
        cols.append(f"{expr} AS {c}")
    sql = f"SELECT {', '.join(cols)} FROM ({inner}) x"
    if sort:
        sql += " ORDER BY x.kommune_id, x.massnahme_id NULLS FIRST, x.kpi, x.period, x.granularity"
    return sql, params


def count_rows(db: Database, filters: Filters) -> int:
    """Return how many rows the long-table export of `filters` has (after aggregation)."""
    if filters.granularity == "month":
        where, params = filters.where_sql("v")
        return int(db.query(f"SELECT count(*) FROM v_measurement v {where}", params)[0][0])
    sql, params = data_sql(filters, "plain", sort=False)
    return int(db.query(f"SELECT count(*) FROM ({sql})", params)[0][0])


def data_frame(db: Database, filters: Filters, limit: int | None = None):
    """Return the filtered (and aggregated) long table as a pandas DataFrame, optionally the first `limit` rows."""
    sql, params = data_sql(filters, "plain")
    if limit is not None:
        sql += " LIMIT $limit"
        params = dict(params, limit=int(limit))
    return db.df(sql, params)


def selection_summary(db: Database, filters: Filters) -> dict:
    """Return counts of what the filters select: values, Kommunen, Maßnahmen, KPIs, first and last period."""
    where, params = filters.where_sql("v")
    row = db.query(
        f"""SELECT count(*), count(DISTINCT kommune), count(DISTINCT massnahme), count(DISTINCT kpi),
                   min(period), max(period)
            FROM v_measurement v {where}""",
        params,
    )[0]
    keys = ("values", "kommunen", "massnahmen", "kpis", "first", "last")
    return dict(zip(keys, row, strict=True))


def period_range(db: Database, filters: Filters) -> tuple[date | None, date | None]:
    """Return the first and last period the filters select (None, None when nothing)."""
    where, params = filters.where_sql("v")
    row = db.query(f"SELECT min(period), max(period) FROM v_measurement v {where}", params)[0]
    return row[0], row[1]


def upload_ids_used(db: Database, filters: Filters) -> list[int]:
    """Return the ids of the uploads the filtered values come from."""
    where, params = filters.where_sql("v")
    rows = db.query(f"SELECT DISTINCT upload_id FROM v_measurement v {where} ORDER BY 1", params)
    return [int(r[0]) for r in rows]


# ---------------------------------------------------------------- files and names

_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./\-]+$")


def _tmp_file(suffix: str) -> Path:
    return export_tmp_root() / f"{uuid.uuid4().hex}{suffix}"


def slug(text: str, max_len: int = 40) -> str:
    """Return an ASCII file-name part: 'Bad Münster-Süd' -> 'bad-muenster-sued'."""
    t = text.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        t = t.replace(a, b)
    t = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode("ascii")
    t = re.sub(r"[^a-z0-9]+", "-", t).strip("-")
    return (t[:max_len].rstrip("-")) or "x"


def export_file_name(filters: Filters, fmt: str, what: str = "data",
                     first: date | None = None, last: date | None = None) -> str:
    """Return `kpi_<kommune>_<from>_<to>.<ext>`; metrics as `kpi-metriken_…`; 'alle'/'beginn'/'ende' when open."""
    if fmt not in FORMATS:
        raise ExportError(f"Unbekanntes Format „{fmt}“. Möglich: {', '.join(FORMATS)}.")
    if len(filters.kommune) == 1:
        kommune = slug(filters.kommune[0])
    elif filters.kommune:
        kommune = slug("-".join(filters.kommune), 60)
    else:
        kommune = "alle"
    start = filters.period_from or first
    end = filters.period_to or last
    part_from = start.strftime("%Y-%m") if start else "beginn"
    part_to = end.strftime("%Y-%m") if end else "ende"
    prefix = "kpi" if what == "data" else "kpi-metriken"
    suffix = "_de" if fmt == "csv-de" else ""
    return f"{prefix}_{kommune}_{part_from}_{part_to}{suffix}{FORMATS[fmt][0]}"


# ---------------------------------------------------------------- writers

def _copy_options(fmt: str) -> str:
    if fmt == "csv":
        return "FORMAT csv, HEADER true, DELIMITER ','"
    if fmt == "csv-de":
        return "FORMAT csv, HEADER true, DELIMITER ';', DATEFORMAT '%d.%m.%Y'"
    return "FORMAT parquet, COMPRESSION zstd"


def _bom_first_column(sql: str) -> str:
    """Rename the first output column so DuckDB writes the UTF-8 BOM in the header line itself."""
    return f'SELECT * RENAME (kommune AS "\ufeffkommune") FROM ({sql})'


@contextmanager
def _cursor(con_or_db):
    """A fresh cursor of a Database; a plain DuckDB connection is used as it is (its
    registered Arrow tables are not visible to cursors)."""
    if isinstance(con_or_db, duckdb.DuckDBPyConnection):
        yield con_or_db
        return
    cur = con_or_db.cursor()
    try:
        yield cur
    finally:
        cur.close()


def _copy_to(con_or_db, sql: str, params: dict, target: Path, options: str) -> None:
    """Let DuckDB write query results to `target` (inside the private temp dir).

    A connection hardened with enable_external_access=false refuses COPY unless the temp dir is
    in its allowed_directories; then the rows stream as Arrow batches into a side connection.
    """
    path = str(target)
    if not _SAFE_PATH.match(path):
        raise ExportError("Der Pfad des temporären Exportordners enthält unzulässige Zeichen.")
    copy = f"COPY ({sql}) TO {sql_literal(path)} ({options})"
    with _cursor(con_or_db) as cur:
        try:
            cur.execute(copy, params)
            return
        except duckdb.PermissionException:
            pass
    with _cursor(con_or_db) as cur:
        side = duckdb.connect(":memory:")
        try:
            side.execute("SET allowed_directories = $d", {"d": [str(export_tmp_root())]})
            side.execute("SET enable_external_access = false")
            reader = cur.sql(sql, params=params).to_arrow_reader(_BATCH_ROWS)
            side.register("export_src", reader)
            side.execute(f"COPY (SELECT * FROM export_src) TO {sql_literal(path)} ({options})")
        finally:
            side.close()


def _read_and_remove(path: Path) -> bytes:
    try:
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)


def _info_rows(db: Database, filters: Filters, what: str, rows: int, user: str,
               upload_ids: list[int], extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    stand = latest_upload_time(db)
    info = [("Inhalt", "Messwerte (lange Tabelle)" if what == "data" else "Kennzahlen je Maßnahme")]
    info += [(label, value) for label, value in filters.describe_de()]
    info += [
        ("Datenstand", date_de(stand) if stand else "–"),
        ("Exportiert am", datetime_de(datetime.now())),
        ("Exportiert von", user),
        ("Zeilen", number_de(rows)),
        ("Verwendete Uploads", ", ".join(str(i) for i in upload_ids) or "–"),
    ]
    info += list(extra)
    info.append(("Hinweis", "Textzellen, die mit =, +, -, @, Tabulator oder Wagenrücklauf beginnen, "
                            "sind mit einem vorangestellten ' entschärft (Schutz vor Formel-Injektion)."))
    return info


_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"

# Cell styles (index into cellXfs of _STYLES): 1 date, 2 decimal number, 3 integer, 4 header, 5 wrapped text.
_STYLE_OF_KIND = {"date": 1, "float": 2, "int": 3}
_STYLES = (
    _XML_HEAD + f'<styleSheet xmlns="{_NS_MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="dd.mm.yyyy"/>'
    '<numFmt numFmtId="165" formatCode="#,##0.00"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDE5F0"/><bgColor indexed="64"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Standard" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>'
)


def _xml_text(text: str) -> str:
    """Escape text for an XML text node; drop control characters XML 1.0 forbids."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "&#10;").replace("\r", "&#13;"))


def _xml_text_sql(column: str) -> str:
    """SQL twin of `_xml_text`; the common case (nothing to escape) skips the replacements."""
    return (f"CASE WHEN regexp_matches({column}, '[&<>\\x00-\\x1F]') THEN "
            f"replace(replace(replace(replace(replace(regexp_replace({column}, "
            f"'[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '', 'g'), '&', '&amp;'), '<', '&lt;'), "
            f"'>', '&gt;'), chr(10), '&#10;'), chr(13), '&#13;') ELSE {column} END")


def _col_letter(j: int) -> str:
    s, j = "", j + 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _inline(text: str, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    return f'<c t="inlineStr"{s}><is><t xml:space="preserve">{_xml_text(text)}</t></is></c>'


def _row_xml_sql(columns: list[str], kinds: list[str]) -> str:
    """SQL expression rendering one row of source alias `x` as a <row> element (cells without refs)."""
    parts = []
    for name, kind in zip(columns, kinds, strict=True):
        c = 'x."' + name.replace('"', '""') + '"'
        if kind == "str":
            v = f"'<c t=\"inlineStr\"><is><t xml:space=\"preserve\">' || {_xml_text_sql(c)} || '</t></is></c>'"
        elif kind == "bool":
            v = f"'<c t=\"b\"><v>' || CASE WHEN {c} THEN '1' ELSE '0' END || '</v></c>'"
        elif kind == "date":
            v = f"'<c s=\"1\"><v>' || CAST(CAST({c} AS DATE) - DATE '1899-12-30' AS VARCHAR) || '</v></c>'"
        else:
            v = f"'<c s=\"{_STYLE_OF_KIND[kind]}\"><v>' || CAST({c} AS VARCHAR) || '</v></c>'"
        parts.append(f"coalesce({v}, '<c/>')")  # an empty cell keeps the positions of the next ones
    return "'<row>' || " + " || ".join(parts) + " || '</row>'"


def _sheet_head(columns: list[str], kinds: list[str], n_rows: int) -> str:
    last = f"{_col_letter(len(columns) - 1)}{n_rows + 1}"
    widths = {"date": 12, "float": 14, "int": 10, "bool": 8, "str": 20}
    cols = "".join(
        f'<col min="{j + 1}" max="{j + 1}" width="{max(widths[k], min(len(n) + 3, 45))}" customWidth="1"/>'
        for j, (n, k) in enumerate(zip(columns, kinds, strict=True)))
    header = "".join(_inline(n, 4) for n in columns)
    return (_XML_HEAD + f'<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f'<dimension ref="A1:{last}"/>'
            '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols>'
            f'<sheetData><row r="1">{header}</row>\n')


def _sheet_tail(columns: list[str], n_rows: int) -> str:
    return f'</sheetData><autoFilter ref="A1:{_col_letter(len(columns) - 1)}{n_rows + 1}"/></worksheet>'


def _info_sheet(info: list[tuple[str, str]]) -> str:
    rows = [f'<row r="1">{_inline("Angabe", 4)}{_inline("Wert", 4)}</row>']
    for i, (label, value) in enumerate(info, start=2):
        rows.append(f'<row r="{i}">{_inline(neutralise(str(label)))}{_inline(neutralise(str(value)), 5)}</row>')
    return (_XML_HEAD + f'<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            '<sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            '<cols><col min="1" max="1" width="24" customWidth="1"/><col min="2" max="2" width="100" customWidth="1"/></cols>'
            f'<sheetData>{"".join(rows)}</sheetData></worksheet>')


def _package_parts(columns: list[str], n_rows: int) -> dict[str, str]:
    last = f"${_col_letter(len(columns) - 1)}${n_rows + 1}"
    return {
        "[Content_Types].xml": _XML_HEAD + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT_SHEET}"/>'
            f'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="{_CT_SHEET}"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '</Types>'),
        "_rels/.rels": _XML_HEAD + (
            f'<Relationships xmlns="{_NS_PKG}"><Relationship Id="rId1" '
            f'Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": _XML_HEAD + (
            f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            '<sheets><sheet name="Daten" sheetId="1" r:id="rId1"/><sheet name="Info" sheetId="2" r:id="rId2"/></sheets>'
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"Daten!$A$1:{last}</definedName></definedNames></workbook>"),
        "xl/_rels/workbook.xml.rels": _XML_HEAD + (
            f'<Relationships xmlns="{_NS_PKG}">'
            f'<Relationship Id="rId1" Type="{_NS_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_NS_REL}/worksheet" Target="worksheets/sheet2.xml"/>'
            f'<Relationship Id="rId3" Type="{_NS_REL}/styles" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": _STYLES,
    }


def _xlsx_write(con_or_db, sql: str, params: dict, target: Path, n_rows: int,
                info: list[tuple[str, str]]) -> int:
    """Write the rows of `sql` as sheet „Daten“ (typed cells) plus sheet „Info“ into an XLSX file.

    DuckDB renders each row's XML in one vectorised pass into a temp file; Python only zips it.
    """
    if n_rows > XLSX_MAX_DATA_ROWS:
        raise ExportError(_too_many_rows_message(n_rows))
    with _cursor(con_or_db) as cur:
        schema = cur.sql(f"SELECT * FROM ({sql}) LIMIT 0", params=params).to_arrow_table().schema
    columns, kinds = list(schema.names), _arrow_kinds(schema)
    row_sql = f"SELECT {_row_xml_sql(columns, kinds)} AS xml FROM ({sql}) x"
    rows_file = _tmp_file(".xml")
    try:
        _copy_to(con_or_db, row_sql, params, rows_file,
                 "FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x02'")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            for name, text in _package_parts(columns, n_rows).items():
                z.writestr(name, text)
            with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
                out.write(_sheet_head(columns, kinds, n_rows).encode("utf-8"))
                with open(rows_file, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                out.write(_sheet_tail(columns, n_rows).encode("utf-8"))
            z.writestr("xl/worksheets/sheet2.xml", _info_sheet(info))
    finally:
        rows_file.unlink(missing_ok=True)
    return n_rows


def _too_many_rows_message(n: int) -> str:
    return (f"Die Auswahl hat {number_de(n)} Zeilen; Excel fasst höchstens {number_de(XLSX_MAX_DATA_ROWS)} "
            "Datenzeilen je Blatt. Bitte den Zeitraum oder die Auswahl einschränken, ein gröberes Zeitraster "
            "(Quartal, Jahr) wählen oder CSV bzw. Parquet verwenden.")


def _arrow_kinds(schema: pa.Schema) -> list[str]:
    kinds = []
    for field in schema:
        t = field.type
        if pa.types.is_boolean(t):
            kinds.append("bool")
        elif pa.types.is_date(t) or pa.types.is_timestamp(t):
            kinds.append("date")
        elif pa.types.is_integer(t):
            kinds.append("int")
        elif pa.types.is_floating(t) or pa.types.is_decimal(t):
            kinds.append("float")
        else:
            kinds.append("str")
    return kinds


# ---------------------------------------------------------------- data export

def _write_data(db: Database, fmt: str, filters: Filters, target: Path, user: str) -> int:
    if fmt not in FORMATS:
        raise ExportError(f"Unbekanntes Format „{fmt}“. Möglich: {', '.join(FORMATS)}.")
    if fmt == "xlsx":
        n = count_rows(db, filters)
        if n > XLSX_MAX_DATA_ROWS:
            raise ExportError(_too_many_rows_message(n))
        sql, params = data_sql(filters, "safe", sort=n <= SORT_ROWS_MAX)
        info = _info_rows(db, filters, "data", n, user, upload_ids_used(db, filters),
                          [("Aggregation", _aggregation_note(filters)),
                           ("Reihenfolge", "nach Kommune, Maßnahme, Kennzahl, Zeitraum" if n <= SORT_ROWS_MAX
                            else f"wie gespeichert (über {number_de(SORT_ROWS_MAX)} Zeilen; mit dem Autofilter "
                                 "sortierbar)")])
        return _xlsx_write(db, sql, params, target, n, info)
    style = {"csv": "safe", "csv-de": "csv-de", "parquet": "plain"}[fmt]
    n = count_rows(db, filters)
    # Sorting a million rows costs more than writing them (measured: bench/export.py), so very
    # large exports keep storage order; spreadsheet users sort small selections.
    sql, params = data_sql(filters, style, sort=n <= SORT_ROWS_MAX)
    if fmt == "csv-de":
        sql = _bom_first_column(sql)
    _copy_to(db, sql, params, target, _copy_options(fmt))
    return n


def _aggregation_note(filters: Filters) -> str:
    if filters.granularity == "month":
        return "keine (Werte wie geladen)"
    return ("je Kennzahl nach ihrer Regel: Summe, Mittelwert, mit der Fallzahl gewichteter Mittelwert "
            "oder letzter Wert; Spalte n_values = Anzahl zusammengefasster Werte")


def export_bytes(db: Database, fmt: str, filters: Filters, what: str = "data",
                 user: str = "unbekannt") -> tuple[bytes, str, str]:
    """Return (bytes, file name, MIME type) of the export of `filters` in `fmt` (for download buttons)."""
    target = _tmp_file(FORMATS.get(fmt, (".bin",))[0])
    try:
        if what == "metrics":
            _write_metrics(db, fmt, filters, target, user)
        elif what == "data":
            _write_data(db, fmt, filters, target, user)
        else:
            raise ExportError(f"Unbekannter Exportinhalt „{what}“ (data oder metrics).")
        data = _read_and_remove(target)
    finally:
        target.unlink(missing_ok=True)
    first = last = None
    if filters.period_from is None or filters.period_to is None:
        first, last = period_range(db, filters)
    name = export_file_name(filters, fmt, what, first, last)
    return data, name, FORMATS[fmt][1]


def export_file(db: Database, out_path: Path, fmt: str, filters: Filters, what: str = "data",
                user: str = "unbekannt") -> int:
    """Write the export to `out_path` (atomically: temp file, then move); returns data rows written."""
    out_path = Path(out_path)
    if not out_path.parent.exists():
        raise ExportError(f"Der Ordner „{out_path.parent}“ existiert nicht.")
    target = _tmp_file(FORMATS.get(fmt, (".bin",))[0])
    try:
        if what == "metrics":
            n = _write_metrics(db, fmt, filters, target, user)
        elif what == "data":
            n = _write_data(db, fmt, filters, target, user)
        else:
            raise ExportError(f"Unbekannter Exportinhalt „{what}“ (data oder metrics).")
        shutil.move(str(target), str(out_path))
    finally:
        target.unlink(missing_ok=True)
    audit_now(db, user, "export", f"{what} {fmt}: {n} Zeilen nach {out_path.name}")
    return n


# ---------------------------------------------------------------- metrics export



def metrics_rows(db: Database, filters: Filters) -> list[dict]:
    """Return the metrics per Maßnahme as flat dicts (the numbers of `kpi metrics --json`), filtered."""
    kommunen = list(filters.kommune) or [None]
    rows: list[dict] = []
    for k in kommunen:
        rows += _metrics_rows_of(db, k)
    return [r for r in rows if _wanted(filters, r.get("massnahme"), r.get("handlungsfeld"))]


def _metrics_rows_of(db: Database, kommune: str | None) -> list[dict]:
    """The flat metrics rows of one Kommune (None: all), memoised per data version with the engine
    results they come from (shared: read them, do not change them)."""
    from kpi.overview import engine_results, memoised

    return memoised(db, "metrics_rows", kommune,
                    lambda: [_flatten(r.to_json(detail=False)) for r in engine_results(db, kommune)])


def _flatten(d: dict, prefix: str = "") -> dict:
    """Flatten nested dicts with '_' joined keys; lists become '; '-joined text."""
    out: dict = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "_"))
        elif isinstance(value, list | tuple):
            if all(not isinstance(v, dict | list | tuple) for v in value):
                out[name] = "; ".join("" if v is None else str(v) for v in value)
            # lists of records (e.g. yearly series) are left to the JSON output
        else:
            out[name] = value
    return out


def metrics_table(db: Database, filters: Filters) -> pa.Table:
    """Return the metrics rows as an Arrow table with date, number and text columns."""
    rows = metrics_rows(db, filters)
    if not rows:
        return pa.table({"kommune": pa.array([], pa.string()), "massnahme": pa.array([], pa.string())})
    names: list[str] = []
    for r in rows:
        for k in r:
            if k not in names:
                names.append(k)
    arrays = {}
    for name in names:
        values = [r.get(name) for r in rows]
        arrays[name] = _to_arrow_column(values)
    return pa.table(arrays)


def _to_arrow_column(values: list) -> pa.Array:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, pa.bool_())
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.array(values, pa.int64())
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if present and all(isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for v in present):
        return pa.array([None if v is None else date.fromisoformat(v) for v in values], pa.date32())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _write_metrics(db: Database, fmt: str, filters: Filters, target: Path, user: str) -> int:
    if fmt not in FORMATS:
        raise ExportError(f"Unbekanntes Format „{fmt}“. Möglich: {', '.join(FORMATS)}.")
    table = metrics_table(db, filters)
    n = table.num_rows
    if fmt != "parquet":
        table = _neutralise_table(table)
    side = duckdb.connect(":memory:")
    try:
        side.register("metrics_src", table)
        if fmt == "xlsx":
            info = _info_rows(db, filters, "metrics", n, user, upload_ids_used(db, filters))
            return _xlsx_write(side, "SELECT * FROM metrics_src", {}, target, n, info)
        cols = []
        for field in table.schema:
            quoted = '"' + field.name.replace('"', '""') + '"'
            expr = quoted
            if fmt == "csv-de" and pa.types.is_floating(field.type):
                expr = f"replace(CAST({quoted} AS VARCHAR), '.', ',')"
            elif fmt == "csv-de" and pa.types.is_date(field.type):
                expr = f"strftime({quoted}, '%d.%m.%Y')"
            cols.append(f"{expr} AS {quoted}")
        if fmt == "csv-de" and cols:
            first = table.schema[0].name.replace('"', '""')
            cols[0] = cols[0].rsplit(" AS ", 1)[0] + f' AS "\ufeff{first}"'
        sql = f"SELECT {', '.join(cols)} FROM metrics_src"
        path = str(target)
        if not _SAFE_PATH.match(path):
            raise ExportError("Der Pfad des temporären Exportordners enthält unzulässige Zeichen.")
        side.execute(f"COPY ({sql}) TO {sql_literal(path)} ({_copy_options(fmt)})")
    finally:
        side.close()
    return n


def _neutralise_table(table: pa.Table) -> pa.Table:
    cols = []
    for j, field in enumerate(table.schema):
        col = table.column(j)
        if pa.types.is_string(field.type):
            col = pa.array([neutralise(v) for v in col.to_pylist()], pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)


# ---------------------------------------------------------------- German display tables (pages)

_GRAN_DE = {"month": "Monat", "quarter": "Quartal", "year": "Jahr"}


def display_frame_de(df):
    """Return the long table with German headers and German-formatted text cells (for on-screen tables).

    Values of one Kennzahl share their decimals, so that they line up: two when any of its shown
    values has a fraction ("12,00" above "11,70"), none otherwise ("12" above "14").
    """
    import pandas as pd

    from kpi.fmt import period_de

    values = pd.to_numeric(df["value"], errors="coerce")
    with_fraction = set(df.loc[(values % 1).fillna(0) != 0, "kpi_label"])

    def value_de(v, unit, label):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        text = number_de(v, 2 if label in with_fraction else 0)
        return f"{text}\u00a0€" if unit == "€" else text

    return pd.DataFrame({
        "Kommune": df["kommune"],
        "Maßnahme": df["massnahme"].fillna("– (Kommune gesamt)"),
        "Kennzahl": df["kpi_label"],
        "Zeitraum": [period_de(pd.Timestamp(p).date(), g) for p, g in zip(df["period"], df["granularity"],
                                                                         strict=True)],
        "Wert": [value_de(v, u, k) for v, u, k in zip(df["value"], df["unit"], df["kpi_label"], strict=True)],
        "Einheit": df["unit"],
        "Werte": df["n_values"],
        "Upload": df["upload_id"],
        "Notiz": df["note"].fillna(""),
    })


METRICS_COLUMNS_DE = (
    ("kommune", "Kommune", "text"),
    ("massnahme", "Maßnahme", "text"),
    ("costs_eur", "Kosten", "eur"),
    ("benefits_eur", "Nutzen", "eur"),
    ("net_benefit_eur", "Nettonutzen", "eur"),
    ("npv_eur", "Kapitalwert", "eur"),
    ("roi", "Rendite (ROI)", "pct"),
    ("payback_text_de", "Amortisation", "text"),
    ("hours_saved", "Eingesparte Stunden", "num"),
)


def metrics_display_de(rows: list[dict]):
    """Return the main metrics per Maßnahme with German headers and formatted cells."""
    import pandas as pd

    from kpi.fmt import eur_de, pct_de

    def cell(v, kind):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–" if kind != "text" else ""
        if kind == "eur":
            return eur_de(v)
        if kind == "pct":
            return pct_de(v, 1)
        if kind == "num":
            return number_de(v)
        return str(v)

    return pd.DataFrame({label: [cell(r.get(key), kind) for r in rows] for key, label, kind in METRICS_COLUMNS_DE})


def preview_de(db: Database, filters: Filters, limit: int):
    """The first `limit` rows of the long table as the page shows them (display_frame_de): cached whole,
    so a rerun does not format them again."""
    return display_frame_de(data_frame(db, filters, limit=limit))


def metrics_de(db: Database, filters: Filters):
    """The metrics per Maßnahme as the page shows them (metrics_display_de; no rows without Maßnahmen):
    the same values as metrics_rows, but only the shown ones are taken from the engine results."""
    from kpi.overview import engine_results

    keys = [key for key, _, _ in METRICS_COLUMNS_DE]
    rows = [r.figures_json(keys) for k in (list(filters.kommune) or [None]) for r in engine_results(db, k)
            if _wanted(filters, r.massnahme, r.handlungsfeld)]
    return metrics_display_de(rows)


def _wanted(filters: Filters, massnahme: str | None, handlungsfeld: str | None) -> bool:
    return ((not filters.massnahme or massnahme in filters.massnahme)
            and (not filters.handlungsfeld or handlungsfeld in filters.handlungsfeld))
