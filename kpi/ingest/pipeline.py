"""The import pipeline: check → read → recognise layout → validate → preview → commit.

Public API (the upload page and the CLI build on it):
`analyse(data, file_name, profile=None, limits=None, *, db=None) -> IngestResult`,
`preview_counts(db, result)`, `commit(db, result, partial=False, user=...)`.
Nothing is written before `commit`, and `commit` is one transaction (store.apply_payload).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pyarrow as pa

from kpi import store
from kpi.fmt import number_de
from kpi.ingest import compute as pc
from kpi.ingest import layout as lay
from kpi.ingest.guard import UnsafeFileError
from kpi.ingest.read import ReadError, open_book
from kpi.ingest.validate import IssueSink, KpiCatalog, validate

log = logging.getLogger(__name__)


class IngestRefused(ValueError):
    """Commit refused (German message): the file has errors and partial loading was not chosen."""


@dataclass
class Issue:
    """One validation finding, with where Excel shows it."""

    level: str  # 'error' | 'warning'
    message: str
    sheet: str | None = None
    cell: str | None = None
    row: int | None = None
    column: str | None = None

    def text_de(self) -> str:
        """'Blatt „Kosten“, Zelle D14: „zwölf“ ist keine Zahl' (place parts only when known)."""
        where = []
        if self.sheet:
            where.append(f"Blatt „{self.sheet}“")
        if self.cell:
            where.append(f"Zelle {self.cell}")
        elif self.row is not None:
            where.append(f"Zeile {self.row}")
        elif self.column:
            where.append(f"Spalte {self.column}")
        return (", ".join(where) + ": " if where else "") + self.message


@dataclass
class IngestResult:
    file_name: str
    sha256: str
    raw: bytes
    payload: store.Payload
    issues: list[Issue] = field(default_factory=list)
    n_rows_read: int = 0
    n_error_rows: int = 0
    layouts: list[str] = field(default_factory=list)
    needs_profile: bool = False
    sheets: list[str] = field(default_factory=list)
    profile_name: str | None = None
    fatal: bool = False  # the file could not be read at all
    keys_unique: bool = False  # validation found every measurement key once (the load skips de-duplicating)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    @property
    def has_errors(self) -> bool:
        return any(i.level == "error" for i in self.issues)

    @property
    def n_valid_rows(self) -> int:
        m = self.payload.measurements
        return 0 if m is None else len(m)

    def report_de(self) -> str:
        """Multi-line German report: what was recognised, errors, warnings, and what would load."""
        lines = [f"Datei „{self.file_name}“"]
        lines += [f"  {t}" for t in self.layouts]
        lines.append(
            f"  {number_de(self.n_rows_read)} Werte gelesen, {number_de(self.n_valid_rows)} gültig, "
            f"{number_de(self.n_error_rows)} Zeilen mit Fehlern."
        )
        if self.needs_profile:
            lines.append("  Der Aufbau der Datei wurde nicht erkannt: bitte Spalten zuordnen (Importprofil).")
        errs, warns = self.errors, self.warnings
        if errs:
            lines.append(f"Fehler ({len(errs)}):")
            lines += [f"  - {i.text_de()}" for i in errs]
        if warns:
            lines.append(f"Hinweise ({len(warns)}):")
            lines += [f"  - {i.text_de()}" for i in warns]
        if errs:
            lines.append("Die Datei wird nicht geladen. Bitte Fehler beheben oder nur die gültigen Zeilen laden "
                         "(Option „nur gültige Zeilen“, kpi ingest --partial).")
        return "\n".join(lines)


def _check(data: bytes, file_name: str, limits):
    """Byte-level safety check before any parser (kpi.ingest.guard); returns its Inspection."""
    from kpi.ingest import guard

    return guard.inspect_upload(data, file_name, limits)


def analyse(data: bytes, file_name: str, profile=None, limits=None, *, db=None) -> IngestResult:
    """Read and validate a file; writes nothing. `db` (optional) supplies user-defined KPIs."""
    result = IngestResult(file_name=file_name, sha256=store.sha256_bytes(data), raw=data,
                          payload=store.Payload())
    sink = IssueSink(Issue)
    try:
        inspection = _check(data, file_name, limits)
        for w in inspection.warnings:
            sink.add("warning", w)
        book = open_book(data, file_name)
    except (ReadError, UnsafeFileError) as exc:
        sink.add("error", str(exc))
        result.issues = sink.issues
        result.fatal = True
        return result
    result.sheets = list(book.sheet_names)
    from kpi.ingest.cells import workbook_cell_findings

    for message, sheet, cell in workbook_cell_findings(data, inspection.plain_parts):
        sink.add("warning", message, sheet, cell)
    kpis = KpiCatalog.from_db(db) if db is not None else KpiCatalog.builtin()
    try:
        _analyse_book(book, result, sink, kpis, profile)
    except ReadError as exc:
        sink.add("error", str(exc))
        result.fatal = True
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, pa.ArrowException) as exc:
        # a file shaped in a way nobody foresaw: refuse it in German instead of failing the page
        log.exception("analyse failed for %s", file_name)
        sink.add("error", f"„{file_name}“ konnte nicht verarbeitet werden ({type(exc).__name__}). "
                          "Bitte die Vorlage verwenden oder die Spalten zuordnen (Importprofil).")
        result.fatal = True
    result.issues = sink.issues
    pa.default_memory_pool().release_unused()
    return result


def _analyse_book(book, result: IngestResult, sink: IssueSink, kpis: KpiCatalog, profile) -> None:
    from kpi.ingest import reference

    parts = []
    names = list(book.sheet_names)
    if profile is not None and profile.sheet:
        if profile.sheet not in names:
            sink.add("error", f"Blatt „{profile.sheet}“ gibt es nicht. Vorhanden: "
                     + ", ".join(f"„{n}“" for n in names) + ".")
            result.fatal = True
            return
        names = [profile.sheet]
    # reference sheets of the template first: they may define KPIs the data sheets use
    data_sheets = []
    if profile is None:
        ref_payload = reference.read_reference_sheets(book, names, sink, kpis, result.layouts)
        result.payload = ref_payload
        data_sheets = [n for n in names if not reference.is_reference_sheet(n)]
    else:
        data_sheets = names
    recognised = 0
    for name in data_sheets:
        grid = book.grid(name)
        if profile is not None:
            try:
                layout = lay.profile_layout(grid, profile)
            except KeyError as exc:
                sink.add("error", exc.args[0], name)
                result.fatal = True
                continue
        else:
            layout = lay.detect(grid, kpis.is_kpi)
        result.layouts.append(layout.describe_de(grid))
        if layout.kind in ("unknown", "empty"):
            continue
        missing = lay.missing_fields(layout)
        if missing:
            names_de = ", ".join(f"„{lay.ROLE_DE[f]}“" for f in missing)
            sink.add("error", f"Spalte {names_de} nicht gefunden"
                     + (f" (Kopfzeile {grid.excel_row(layout.header)})" if layout.header is not None
                        and layout.header >= 0 else "")
                     + ". Bitte die Spalte zuordnen oder einen festen Wert setzen (Importprofil, "
                       "z. B. kpi ingest --set kommune=NAME).", name)
            result.needs_profile = True
            continue
        recognised += 1
        parts.append(lay.records(grid, layout))
        book.drop(name)  # the records hold what is needed: free the sheet's text grid (memory)
    if recognised == 0 and not reference.has_rows(result.payload):
        result.needs_profile = True
        result.fatal = True
        if result.layouts and all(t.endswith(": leer") for t in result.layouts):
            sink.add("error", "Die Datei enthält keine Daten (alle Blätter sind leer).")
        elif not any(i.level == "error" for i in sink.issues):
            sink.add("error", "Keine Tabelle mit Kennzahlen erkannt (Kopfzeile mit z. B. Kommune, Kennzahl, "
                     "Zeitraum, Wert). Bitte die Vorlage verwenden oder die Spalten zuordnen (Importprofil).")
        return
    rec = pa.concat_tables(parts) if parts else lay.RECORD_SCHEMA.empty_table()
    # values read = cells with something in them (blank and placeholder cells are no values)
    result.n_rows_read = int(pc.sum(pc.invert(rec.column("value_missing"))).as_py() or 0)
    frame, n_err, result.keys_unique = validate(rec, kpis, sink)
    result.payload.measurements = frame
    result.n_error_rows = n_err
    if frame.num_rows == 0 and n_err == 0 and not reference.has_rows(result.payload):
        sink.add("error", "Die Datei enthält keine Werte: Kopfzeile erkannt, aber keine Zeile mit einem Wert.")
        result.fatal = True


def preview_counts(db, result: IngestResult) -> store.LoadCounts:
    """Counts of rows to insert / update / leave unchanged if `result` were committed; writes nothing."""
    frame = result.payload.measurements
    if frame is None:
        frame = store.FRAME_SCHEMA.empty_table()
    return store.preview(db, frame, keys_unique=result.keys_unique)


def commit(db, result: IngestResult, *, partial: bool = False, user: str = "unbekannt") -> store.LoadCounts:
    """Load the valid rows as one transaction; refuses a file with errors unless `partial`."""
    if result.fatal:
        raise IngestRefused(f"„{result.file_name}“ kann nicht geladen werden: "
                            + "; ".join(i.message for i in result.errors[:3]))
    if result.has_errors and not partial:
        raise IngestRefused(
            f"„{result.file_name}“ enthält {len(result.errors)} Fehler und wird nicht geladen. "
            "Bitte die Fehler beheben oder ausdrücklich nur die gültigen Zeilen laden."
        )
    # hand memory freed by reading and validating back before DuckDB needs its own (peak memory)
    pa.default_memory_pool().release_unused()
    return store.apply_payload(
        db, result.payload, file_name=result.file_name, user=user, raw_bytes=result.raw,
        profile=result.profile_name, n_warnings=len(result.warnings), keys_unique=result.keys_unique,
        sha256=result.sha256,
    )
