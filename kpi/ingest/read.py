"""Reading workbooks and CSV files into text grids with Excel coordinates.

Every sheet becomes a `Grid`: equal-length Arrow string columns, the Excel row of grid row 0
and the Excel column of grid column 0. Cells are text as the reader renders them; Excel
numbers as `1234.5`, Excel dates as `2024-03-01 00:00:00`. Because an Excel number 1.234 and
the German text „1.234“ (= 1234) render alike, `Grid.numeric_mask(col)` tells (lazily, only
when needed) which cells were real Excel numbers.

.xlsx/.xlsm are read with fastexcel (calamine → Arrow; macros are never run), .xls/.ods with
python-calamine, .csv with the csv module after detecting encoding and delimiter. Callers must
run `kpi.ingest.guard.check_upload` on the bytes first (see `pipeline.analyse`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa

from kpi.ingest import arrays as A
from kpi.ingest import compute as pc


class ReadError(ValueError):
    """The file cannot be read (German message)."""


EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
LEGACY_SUFFIXES = {".xls", ".ods"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
SUPPORTED_DE = ".xlsx, .xlsm, .xls, .csv"


@dataclass
class Grid:
    """One sheet as text columns; row0 = Excel row (1-based) of grid row 0, col0 = Excel column index."""

    name: str
    columns: list[pa.Array]
    row0: int = 1
    col0: int = 0
    decimal: str = "excel"  # see parse.number_status: de | en | excel
    column_decimal: dict[int, str] = field(default_factory=dict)  # CSV: per-column detection
    _probe: Callable[[int], pa.Array | None] | None = None
    _probe_cache: dict[int, pa.Array | None] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    @property
    def n_cols(self) -> int:
        return len(self.columns)

    def cell(self, r: int, c: int) -> str | None:
        """Text of grid cell (r, c), stripped; None when empty or outside."""
        if c < 0 or c >= len(self.columns) or r < 0 or r >= self.n_rows:
            return None
        v = self.columns[c][r].as_py()
        if v is None:
            return None
        v = str(v).strip()
        return v or None

    def row_values(self, r: int) -> list[str | None]:
        return [self.cell(r, c) for c in range(self.n_cols)]

    @property
    def has_probe(self) -> bool:
        return self._probe is not None

    def numeric_mask(self, c: int) -> pa.Array | None:
        """Bool array: True where grid column c held an Excel number (None when unknown, e.g. CSV)."""
        if self._probe is None:
            return None
        if c not in self._probe_cache:
            self._probe_cache[c] = self._probe(c)
        return self._probe_cache[c]

    def decimal_of(self, c: int) -> str:
        return self.column_decimal.get(c, self.decimal)

    def excel_row(self, r: int) -> int:
        return self.row0 + r


@dataclass
class Book:
    file_name: str
    kind: str  # xlsx | xls | csv
    sheet_names: list[str]
    _load: Callable[[str], Grid]
    _cache: dict[str, Grid] = field(default_factory=dict)

    def drop(self, name: str) -> None:
        self._cache.pop(name, None)

    def grid(self, name: str) -> Grid:
        if name not in self._cache:
            self._cache[name] = self._load(name)
        return self._cache[name]


def suffix_of(file_name: str) -> str:
    return Path(file_name).suffix.lower()


def open_book(data: bytes, file_name: str) -> Book:
    """Open a file by its content (zip → xlsx, OLE → xls, else CSV text); ReadError in German."""
    suffix = suffix_of(file_name)
    if not data:
        raise ReadError("Die Datei ist leer (0 Byte).")
    if data[:4] == b"PK\x03\x04":
        if suffix in CSV_SUFFIXES:
            raise ReadError("Die Datei heißt .csv, ist aber eine Excel-Arbeitsmappe (ZIP). Bitte als .xlsx hochladen.")
        return _open_xlsx(data, file_name)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return _open_calamine(data, file_name, "xls")
    if suffix in EXCEL_SUFFIXES | LEGACY_SUFFIXES:
        raise ReadError(
            f"„{file_name}“ ist keine gültige Excel-Datei (der Inhalt passt nicht zur Endung {suffix}). "
            "Ist die Datei beschädigt oder unvollständig übertragen?"
        )
    if suffix not in CSV_SUFFIXES and suffix != "":
        raise ReadError(f"Dateityp „{suffix}“ wird nicht unterstützt. Möglich sind: {SUPPORTED_DE}.")
    return _open_csv(data, file_name)


# ------------------------------------------------------------------------------------ xlsx

def _open_xlsx(data: bytes, file_name: str) -> Book:
    import fastexcel

    try:
        reader = fastexcel.read_excel(data)
        names = list(reader.sheet_names)
    except Exception as exc:  # fastexcel raises its own error classes for broken zips/xml
        raise ReadError(
            f"„{file_name}“ lässt sich nicht als Excel-Arbeitsmappe öffnen (beschädigt oder unvollständig?)."
        ) from exc

    def load(name: str) -> Grid:
        try:
            # eager: calamine reads the cells by reference (no string copied per cell) straight to Arrow
            batch = reader.load_sheet(name, header_row=None, dtypes="string", eager=True)
        except Exception:
            # calamine rejects some valid-enough files (e.g. rows without row numbers);
            # openpyxl in read-only mode (defusedxml, after the guard) copes with them
            return _openpyxl_grid(data, file_name, name)
        columns = [batch.column(i) for i in range(batch.num_columns)]
        row0, col0 = _xlsx_offsets(data, names.index(name), columns)

        def probe(c: int) -> pa.Array | None:
            try:
                b = reader.load_sheet(name, header_row=None, use_columns=[c], dtypes={c: "boolean"}, eager=True)
                s = columns[c]
                # booleans render as 'true'/'false': those are not numbers
                is_bool = pc.fill_null(pc.is_in(s, value_set=A.strings(["true", "false"])), A.FALSE)
                return pc.and_(pc.is_valid(b.column(0)), pc.invert(is_bool))
            except Exception:
                return None

        return Grid(name, columns, row0, col0, decimal="excel", _probe=probe)

    return Book(file_name, "xlsx", names, load)


_CELL_RE = re.compile(rb'<c r="([A-Z]{1,3})(\d+)"[^>]*?(?:/>|>(.*?)</c>)', re.S)


def _xlsx_offsets(data: bytes, sheet_index: int, columns: list[pa.Array]) -> tuple[int, int]:
    """Excel row/column of the first cell calamine returned (its range starts at the first value)."""
    if not columns:
        return 1, 0
    try:
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as z:
            path = _sheet_path(z, sheet_index)
            with z.open(path) as f:
                head = f.read(256 << 10)  # usually holds the first 200 rows; else read on to 4 MB
                min_row, min_col, complete = _first_cells(head)
                if not complete and len(head) == 256 << 10:
                    head += f.read((4 << 20) - len(head))
                    min_row, min_col, complete = _first_cells(head)
    except Exception:
        return 1, 0
    if min_row is None:
        return 1, 0
    # A footer further left than the table (below the scanned rows) moves calamine's first
    # column. Excel and openpyxl write the used range as <dimension>: trust its first column
    # when its width matches the width calamine returned.
    dim = re.search(rb'<dimension ref="([A-Z]{1,3})\d+(?::([A-Z]{1,3})\d+)?"', head[:4096])
    if dim and dim.group(2):
        first, last = _col_index_bytes(dim.group(1)), _col_index_bytes(dim.group(2))
        if first < min_col and last - first + 1 == len(columns):
            min_col = first
    return min_row, min_col


def _first_cells(head: bytes) -> tuple[int | None, int | None, bool]:
    """First non-empty row and min column among the cells with a value in the first 200 rows of
    a sheet's XML head; complete = the 200 rows were seen (a longer head gives the same answer)."""
    min_row, min_col, seen_rows = None, None, 0
    last_row = None
    for m in _CELL_RE.finditer(head):
        body = m.group(3)
        if not body or (b"<v>" not in body and b"<t" not in body and b"<is>" not in body):
            continue
        if re.search(rb"<v>\s*</v>", body) and b"<t" not in body:
            continue
        row = int(m.group(2))
        col = _col_index_bytes(m.group(1))
        if row != last_row:
            seen_rows += 1
            last_row = row
            if seen_rows > 200:
                return min_row, min_col, True
        min_row = row if min_row is None else min(min_row, row)
        min_col = col if min_col is None else min(min_col, col)
    return min_row, min_col, False


def _col_index_bytes(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def _sheet_path(z, sheet_index: int) -> str:
    """Path of the n-th sheet's XML inside the xlsx zip (workbook order)."""
    wb = z.read("xl/workbook.xml")
    rels = z.read("xl/_rels/workbook.xml.rels")
    rids = re.findall(rb'<(?:\w+:)?sheet\b[^>]*?r:id="([^"]+)"', wb)
    if not rids:
        rids = re.findall(rb'<(?:\w+:)?sheet\b[^>]*?\bid="([^"]+)"', wb)
    rid = rids[sheet_index]
    for m in re.finditer(rb"<Relationship\b[^>]*>", rels):
        tag = m.group(0)
        if re.search(rb'Id="' + re.escape(rid) + rb'"', tag):
            target = re.search(rb'Target="([^"]+)"', tag).group(1).decode()
            target = target.lstrip("/")
            return target if target.startswith("xl/") else "xl/" + target
    raise KeyError(rid)


def _openpyxl_grid(data: bytes, file_name: str, name: str) -> Grid:
    from openpyxl import load_workbook
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:  # openpyxl parses XML safely only with defusedxml (see guard.require_defusedxml)
        raise ReadError(f"Blatt „{name}“ in „{file_name}“ wird nicht gelesen: openpyxl arbeitet hier ohne "
                        "defusedxml und läse die Datei nicht sicher. Bitte defusedxml installieren.")

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        ws = wb[name]
        row0, col0 = (ws.min_row or 1), (ws.min_column or 1) - 1
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        wb.close()
    except Exception as exc:
        raise ReadError(f"Blatt „{name}“ in „{file_name}“ lässt sich nicht lesen "
                        "(Datei beschädigt oder ungewöhnlich aufgebaut).") from exc
    return _typed_grid(name, rows, row0, col0)


def _typed_grid(name: str, rows: list[list], row0: int, col0: int) -> Grid:
    """Grid from typed Python cell values (small sheets); numeric mask known exactly."""
    width = max((len(r) for r in rows), default=0)
    cols, masks = [], []
    for c in range(width):
        vals = [r[c] if c < len(r) else None for r in rows]
        cols.append(pa.array([_render(v) for v in vals], pa.string()))
        masks.append(pa.array([isinstance(v, int | float) and not isinstance(v, bool) for v in vals]))
    return Grid(name, cols, row0, col0, decimal="excel", _probe=lambda c: masks[c])


# ------------------------------------------------------------------------------ xls / ods

def _render(v) -> str | None:
    """Render a typed cell like fastexcel does (so both paths parse alike)."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        return v.strftime("%Y-%m-%d 00:00:00")
    if isinstance(v, time):
        return v.strftime("1899-12-31 %H:%M:%S")
    if isinstance(v, timedelta):
        return str(v.total_seconds() / 86400)
    return str(v)


def _open_calamine(data: bytes, file_name: str, kind: str) -> Book:
    import python_calamine

    try:
        wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(wb.sheet_names)
    except Exception as exc:
        raise ReadError(f"„{file_name}“ lässt sich nicht als Excel-Datei öffnen (beschädigt?).") from exc

    def load(name: str) -> Grid:
        try:
            sheet = wb.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=True)
            start = sheet.start or (0, 0)
        except Exception as exc:
            raise ReadError(f"Blatt „{name}“ lässt sich nicht lesen: {type(exc).__name__}.") from exc
        return _typed_grid(name, rows, (start[0] or 0) + 1, start[1] or 0)

    return Book(file_name, kind, names, load)


# ------------------------------------------------------------------------------------ csv

def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), else Windows-1252, else ISO-8859-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def sniff_delimiter(text: str) -> str:
    """The delimiter (; , tab |) that splits the first lines most consistently."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    best, best_score = ";", -1.0
    for d in (";", ",", "\t", "|"):
        counts = []
        for ln in lines:
            try:
                counts.append(len(next(csv.reader([ln], delimiter=d))) - 1)
            except (csv.Error, StopIteration):
                counts.append(0)
        if not counts or max(counts) == 0:
            continue
        mode = max(set(counts), key=counts.count)
        score = counts.count(mode) + (0.5 if mode > 0 else 0) + mode / 1000
        if mode > 0 and score > best_score:
            best, best_score = d, score
    return best


_EN_NUM = re.compile(r"^[+-]?\d+\.\d{1,2}$|^[+-]?\d*\.\d{4,}$|^[+-]?\d{1,3}(,\d{3})+\.\d+$")
_DE_NUM = re.compile(r"^[+-]?[\d.]*\d,\d+[-]?$")


def _open_csv(data: bytes, file_name: str) -> Book:
    text = decode_text(data)
    if "\x00" in text:
        raise ReadError(f"„{file_name}“ ist keine Textdatei (CSV) und keine Excel-Datei.")
    delim = sniff_delimiter(text)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    except csv.Error as exc:
        raise ReadError(f"„{file_name}“ ist keine lesbare CSV-Datei: {exc}") from exc
    width = max((len(r) for r in rows), default=0)
    cols = []
    column_decimal: dict[int, str] = {}
    german_file = False
    for c in range(width):
        vals = [(r[c].strip() or None) if c < len(r) else None for r in rows]
        cols.append(pa.array(vals, pa.string()))
        sample = [v for v in vals[:5000] if v]
        de = sum(1 for v in sample if _DE_NUM.match(v))
        en = sum(1 for v in sample if _EN_NUM.match(v))
        if en > de:
            column_decimal[c] = "en"
        elif de > 0:
            column_decimal[c] = "de"
            german_file = True
    name = Path(file_name).stem or "CSV"
    # one German decimal anywhere makes '8.000' in other columns 8000, not 8
    default = "de" if delim in (";", "\t") or german_file else "en"
    grid = Grid(name, cols, 1, 0, decimal=default, column_decimal=column_decimal)
    return Book(file_name, "csv", [name], lambda _n: grid)
