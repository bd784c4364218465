"""Byte-level checks of an uploaded file before any parser sees it (untrusted input).

Why: readers can be made to exhaust memory or abort the whole process by a tiny file —
calamine allocates rows×columns up front (one cell at XFD1048576 in a 5 KB file means
512 GiB and an abort no try/except can catch, calamine issue #693), follows cyclic OLE2
sector chains until allocation fails, and picks the *second* of two zip members with the
same name; openpyxl creates one object per merged cell. So the guard checks, on the raw
bytes and with bounded memory:

* file type by magic bytes against the extension (xlsx/xlsm = OOXML zip, xls = OLE2, csv = text);
* OLE2: password-protected OOXML (EncryptionInfo/EncryptedPackage streams), structure sane
  (sector chains inside the file, no cycles), a Workbook stream present;
* zip: member count, duplicate names, encrypted members, compression method, total declared
  uncompressed size and per-member ratio — then every member is stream-decompressed with a
  byte cap (the central directory may lie) while XML parts are scanned for DOCTYPE/ENTITY
  and worksheets for cell references, <dimension>, merged ranges and hyperlink ranges;
* rows × columns (bounding box from A1) against the limits, before calamine allocates;
* macros (vbaProject.bin) are never executed: a warning only.

Cell-level problems (formulas without cached values, error cells, long strings, control
characters) are for the parser's validation, not for this module.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
from dataclasses import dataclass, fields
from pathlib import PurePath

import numpy as np


def require_defusedxml() -> None:
    """Fail at start-up if openpyxl would parse XML without defusedxml.

    openpyxl uses defusedxml when it is importable and OPENPYXL_DEFUSEDXML is unset or "True"
    (openpyxl.xml.DEFUSEDXML). Checked here without importing either (start-up time); the
    reader checks openpyxl's own flag again before it hands openpyxl an upload.
    """
    import importlib.util

    if importlib.util.find_spec("defusedxml") is None:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "Das Paket „defusedxml“ fehlt. Ohne es liest openpyxl Excel-Dateien nicht sicher "
            "(XML-Bomben, externe Entitäten). Bitte installieren: pip install defusedxml"
        )
    if os.environ.get("OPENPYXL_DEFUSEDXML", "True") != "True":
        raise RuntimeError("OPENPYXL_DEFUSEDXML schaltet defusedxml in openpyxl ab; bitte die Variable entfernen.")


class UnsafeFileError(ValueError):
    """The file is refused before parsing (German message naming the file and the limit)."""


@dataclass(frozen=True)
class Limits:
    """Caps for uploads; each can be set by an environment variable (see `from_env`)."""

    max_file_bytes: int = 20 * 2**20
    max_uncompressed_bytes: int = 200 * 2**20
    max_ratio: float = 100.0
    max_rows: int = 1_100_000
    max_cols: int = 500
    max_cells: int = 20_000_000
    max_sheets: int = 50
    max_members: int = 10_000

    @classmethod
    def from_env(cls) -> Limits:
        """Defaults, overridden by KPI_MAX_FILE_MB, KPI_MAX_UNCOMPRESSED_MB, KPI_MAX_RATIO,
        KPI_MAX_ROWS, KPI_MAX_COLS, KPI_MAX_CELLS, KPI_MAX_SHEETS, KPI_MAX_MEMBERS."""
        env = {
            "max_file_bytes": ("KPI_MAX_FILE_MB", lambda s: int(float(s) * 2**20)),
            "max_uncompressed_bytes": ("KPI_MAX_UNCOMPRESSED_MB", lambda s: int(float(s) * 2**20)),
            "max_ratio": ("KPI_MAX_RATIO", float),
            "max_rows": ("KPI_MAX_ROWS", int),
            "max_cols": ("KPI_MAX_COLS", int),
            "max_cells": ("KPI_MAX_CELLS", int),
            "max_sheets": ("KPI_MAX_SHEETS", int),
            "max_members": ("KPI_MAX_MEMBERS", int),
        }
        kwargs = {}
        for f in fields(cls):
            var, conv = env[f.name]
            text = os.environ.get(var)
            if text:
                try:
                    kwargs[f.name] = conv(text)
                except ValueError as exc:
                    raise ValueError(f"Umgebungsvariable {var}=„{text}“ ist keine Zahl.") from exc
        return cls(**kwargs)


def _mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MB".replace(",", "X").replace(".", ",").replace("X", ".")


def _int_de(n: int) -> str:
    return f"{n:,}".replace(",", ".")


EXCEL_EXTS = {".xlsx", ".xlsm"}
TEXT_EXTS = {".csv", ".txt"}
SUPPORTED = ".xlsx, .xlsm, .xls, .csv"

OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def sniff(data: bytes) -> str:
    """Return 'zip', 'ole2', 'pdf', 'utf16' or 'text'/'binary' from the first bytes."""
    head = data[:8]
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head == OLE_MAGIC:
        return "ole2"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    if b"\0" in data[:65536]:
        return "binary"
    return "text"


_KIND_DE = {
    "zip": "ein ZIP-Archiv (z. B. .xlsx)",
    "ole2": "eine alte Office-Datei (.xls/.doc) oder eine passwortgeschützte Arbeitsmappe",
    "pdf": "ein PDF-Dokument",
    "utf16": "eine UTF-16-Textdatei",
    "text": "eine Textdatei (z. B. CSV)",
    "binary": "eine Binärdatei unbekannten Typs",
}


@dataclass(frozen=True)
class Inspection:
    """What the byte check found besides refusals.

    warnings:    German warnings (e.g. macros that are not run)
    plain_parts: zip members scanned whole that hold no formula (`<f`) and no error cell
                 (`t="e"`): kpi.ingest.cells need not read them again
    """

    warnings: list[str]
    plain_parts: frozenset[str] = frozenset()


def check_upload(data: bytes, file_name: str, limits: Limits | None = None) -> list[str]:
    """Check an upload's bytes; raise UnsafeFileError (German) or return German warnings."""
    return inspect_upload(data, file_name, limits).warnings


def inspect_upload(data: bytes, file_name: str, limits: Limits | None = None) -> Inspection:
    """`check_upload`, returning what the scan found (see `Inspection`)."""
    limits = limits or Limits.from_env()
    name = PurePath(file_name).name or file_name
    ext = PurePath(name).suffix.lower()
    where = f"Datei „{name}“"
    if ext not in EXCEL_EXTS | TEXT_EXTS | {".xls"}:
        hint = " (bitte in Excel als .xlsx speichern)" if ext in {".ods", ".xlsb", ".numbers"} else ""
        raise UnsafeFileError(
            f"{where}: Dateityp „{ext or 'ohne Endung'}“ wird nicht unterstützt{hint}. "
            f"Erlaubt sind {SUPPORTED}."
        )
    if len(data) == 0:
        raise UnsafeFileError(f"{where} ist leer (0 Byte).")
    if len(data) > limits.max_file_bytes:
        raise UnsafeFileError(
            f"{where} ist {_mb(len(data))} groß; erlaubt sind höchstens {_mb(limits.max_file_bytes)} "
            "(Grenze einstellbar über KPI_MAX_FILE_MB)."
        )
    kind = sniff(data)
    if ext in EXCEL_EXTS:
        if kind == "ole2":
            streams = _ole_streams(data, where)
            if _is_encrypted_ooxml(streams):
                raise UnsafeFileError(_encrypted_msg(where))
            raise UnsafeFileError(
                f"{where} ist eine alte Excel-Datei im .xls-Format, trägt aber die Endung „{ext}“. "
                "Bitte in Excel als .xlsx speichern oder die Endung in .xls ändern."
            )
        if kind != "zip":
            raise UnsafeFileError(
                f"{where} ist keine Excel-Arbeitsmappe, sondern {_KIND_DE[kind]}. "
                f"Bitte die Datei in Excel öffnen und als .xlsx speichern."
            )
        return _check_zip(data, where, limits)
    if ext == ".xls":
        if kind == "zip":
            raise UnsafeFileError(
                f"{where} ist eine .xlsx-Arbeitsmappe mit der Endung „.xls“. Bitte die Endung in .xlsx ändern."
            )
        if kind != "ole2":
            raise UnsafeFileError(f"{where} ist keine Excel-Datei, sondern {_KIND_DE[kind]}.")
        streams = _ole_streams(data, where)
        if _is_encrypted_ooxml(streams):
            raise UnsafeFileError(_encrypted_msg(where))
        if not ({"workbook", "book"} & {s.lower() for s in streams}):
            raise UnsafeFileError(
                f"{where} ist eine Office-Datei, aber keine Excel-Arbeitsmappe (z. B. ein Word-Dokument)."
            )
        return Inspection([])
    # csv / txt
    if kind in {"zip", "ole2", "pdf"}:
        raise UnsafeFileError(
            f"{where} ist keine Textdatei, sondern {_KIND_DE[kind]}. "
            "Eine Excel-Datei bitte mit der Endung .xlsx hochladen."
        )
    if kind == "utf16":
        raise UnsafeFileError(
            f"{where} ist UTF-16-kodiert („Unicode-Text“). Bitte in Excel als „CSV UTF-8“ speichern."
        )
    _check_text(data, where, limits)
    return Inspection([])


def _encrypted_msg(where: str) -> str:
    return (
        f"{where} ist mit einem Passwort geschützt (verschlüsselt) und kann nicht gelesen werden. "
        "Bitte in Excel den Kennwortschutz entfernen (Datei → Informationen → Arbeitsmappe schützen) "
        "und erneut hochladen."
    )


# --------------------------------------------------------------------------- text (CSV)

def _check_text(data: bytes, where: str, limits: Limits) -> None:
    if b"\0" in data:
        pos = data.index(b"\0")
        line = data.count(b"\n", 0, pos) + 1
        raise UnsafeFileError(
            f"{where} enthält Binärdaten (Nullbyte in Zeile {line}) und ist keine gültige Textdatei."
        )
    text = None
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise UnsafeFileError(
            f"{where} lässt sich weder als UTF-8 noch als Windows-1252 lesen. "
            "Bitte in Excel als „CSV UTF-8“ speichern."
        )
    if not text.strip():
        raise UnsafeFileError(f"{where} enthält keine Daten (nur Leerzeichen oder Leerzeilen).")
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if n_lines > limits.max_rows:
        raise UnsafeFileError(
            f"{where} hat {_int_de(n_lines)} Zeilen; erlaubt sind höchstens {_int_de(limits.max_rows)} "
            "(Grenze einstellbar über KPI_MAX_ROWS)."
        )
    first = text.split("\n", 1)[0]
    n_cols = max(first.count(";"), first.count(","), first.count("\t")) + 1
    if n_cols > limits.max_cols:
        raise UnsafeFileError(
            f"{where} hat in der Kopfzeile {_int_de(n_cols)} Spalten; erlaubt sind höchstens "
            f"{_int_de(limits.max_cols)} (Grenze einstellbar über KPI_MAX_COLS)."
        )
    return []


# --------------------------------------------------------------------------- OLE2 (compound file)

_ENDOFCHAIN, _FREESECT = 0xFFFFFFFE, 0xFFFFFFFF


def _ole_streams(data: bytes, where: str) -> list[str]:
    """Validate the compound file's structure and return its stream and storage names.

    Every sector chain we follow must stay inside the file and must not loop: calamine
    reserves memory while following chains and aborts the process on a crafted cycle.
    """
    broken = UnsafeFileError(f"{where} ist eine beschädigte Office-Datei (OLE2-Struktur fehlerhaft).")
    if len(data) < 512:
        raise broken
    (major, byte_order, shift, mini_shift) = struct.unpack_from("<HHHH", data, 0x1A)
    if byte_order != 0xFFFE or (major, shift) not in {(3, 9), (4, 12)} or mini_shift != 6:
        raise broken
    sec = 1 << shift
    n_fat, dir_start = struct.unpack_from("<II", data, 0x2C)
    minifat_start, n_minifat, difat_start, n_difat = struct.unpack_from("<IIII", data, 0x3C)
    body = len(data) - sec if sec == 4096 else len(data) - 512
    n_sectors = -(-body // sec)
    if n_fat == 0 or n_fat > n_sectors or n_difat > n_sectors:
        raise broken

    def sector(i: int) -> bytes:
        if i >= n_sectors:
            raise broken
        off = (i + 1) * sec
        return data[off:off + sec].ljust(sec, b"\0")

    difat = list(struct.unpack_from("<109I", data, 0x4C))
    seen: set[int] = set()
    nxt = difat_start
    for _ in range(n_difat):
        if nxt in seen or nxt >= n_sectors:
            raise broken
        seen.add(nxt)
        vals = struct.unpack(f"<{sec // 4}I", sector(nxt))
        difat.extend(vals[:-1])
        nxt = vals[-1]
    fat_sectors = [s for s in difat if s != _FREESECT][:n_fat]
    if len(fat_sectors) != n_fat or any(s >= n_sectors for s in fat_sectors):
        raise broken
    fat = b"".join(sector(s) for s in fat_sectors)
    n_entries = len(fat) // 4

    def chain(start: int) -> list[int]:
        out, seen_c = [], set()
        cur = start
        while cur != _ENDOFCHAIN:
            if cur >= n_sectors or cur >= n_entries or cur in seen_c:
                raise broken
            seen_c.add(cur)
            out.append(cur)
            cur = struct.unpack_from("<I", fat, cur * 4)[0]
        return out

    directory = b"".join(sector(s) for s in chain(dir_start))
    if n_minifat:
        chain(minifat_start)
    names = []
    for off in range(0, len(directory), 128):
        entry = directory[off:off + 128]
        name_len, typ = struct.unpack_from("<HB", entry, 64)
        if typ not in (1, 2, 5) or not 2 <= name_len <= 64:
            continue
        name = entry[:name_len - 2].decode("utf-16-le", "replace")
        start, size = struct.unpack_from("<IQ", entry, 116)
        if typ == 2 and size >= 4096 and size > 0:
            sectors = chain(start)
            if len(sectors) * sec < size:
                raise broken
        elif typ == 5 and size:
            chain(start)  # the mini stream lives in the root entry's chain
        if typ != 5:
            names.append(name)
    return names


def _is_encrypted_ooxml(streams: list[str]) -> bool:
    lower = {s.lower() for s in streams}
    return "encryptedpackage" in lower or "encryptioninfo" in lower


# --------------------------------------------------------------------------- OOXML (zip)

# The `r` attribute of a cell: column letters and row number (not `x:r` or `cr`).
# (no length caps: a 10-digit row or a 5-letter column must be seen, not skipped)
_REF_ATTR = rb"""(?<![\w:.-])r\s*=\s*["']\s*\$?([A-Za-z]+)\$?([0-9]+)\s*["']"""
_ROW_OR_CELL = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^<>]*)>"
)
_ROW_R = re.compile(rb"""(?<![\w:.-])r\s*=\s*["']\s*([0-9]+)\s*["']""")
_CELL_R = re.compile(_REF_ATTR)
_RANGE_ATTR = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(dimension|mergeCell|hyperlink)(?=[\s/>])[^<>]*?"
    rb"""(?<![\w:.-])ref\s*=\s*["']([^"']*)["']"""
)
_A1 = re.compile(rb"\$?([A-Za-z]+)\$?([0-9]+)")
_DTD = re.compile(rb"<!\s*(?:[Dd][Oo][Cc][Tt][Yy][Pp][Ee]|[Ee][Nn][Tt][Ii][Tt][Yy])")
_SHEET_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet(?=[\s/>])")

_CHUNK = 4 << 20
_RATIO_MIN_BYTES = 1 << 20  # small parts (styles, tiny sheets) compress far beyond 100:1 legitimately


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n


@dataclass
class _SheetScan:
    max_row: int = 0
    max_col: int = 0
    far: tuple[str, int, int] | None = None  # what set the extent: (kind, col, row)
    plain: bool = False  # scanned whole as XML: no formula, no error cell (see Inspection)

    def see(self, kind: str, col: int, row: int) -> None:
        if col > self.max_col or row > self.max_row:
            self.max_col = max(self.max_col, col)
            self.max_row = max(self.max_row, row)
            self.far = (kind, col, row)


def _cell_name(col: int, row: int) -> str:
    s = ""
    n = col
    while n > 0:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return f"{s}{row}"


def _check_zip(data: bytes, where: str, limits: Limits) -> Inspection:
    broken = f"{where} ist beschädigt oder unvollständig (z. B. beim Herunterladen abgeschnitten)."
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception as exc:  # any zipfile failure (bad zip, unsupported version 13.2, struct error)
        raise UnsafeFileError(broken) from exc
    if len(infos) > limits.max_members:
        raise UnsafeFileError(
            f"{where} enthält {_int_de(len(infos))} Teile; erlaubt sind höchstens "
            f"{_int_de(limits.max_members)}."
        )
    names = [i.filename for i in infos]
    lower = {n.lower() for n in names}
    if len(lower) != len(names):
        raise UnsafeFileError(
            f"{where} enthält Teile mit doppeltem Namen; solche manipulierten Dateien werden abgelehnt."
        )
    if "[content_types].xml" not in lower or "xl/workbook.xml" not in lower:
        if "mimetype" in lower and "content.xml" in lower:
            raise UnsafeFileError(
                f"{where} ist eine OpenDocument-Tabelle (LibreOffice .ods), keine Excel-Arbeitsmappe. "
                "Bitte als .xlsx speichern."
            )
        if "word/document.xml" in lower:
            raise UnsafeFileError(f"{where} ist ein Word-Dokument, keine Excel-Arbeitsmappe.")
        if "xl/workbook.bin" in lower:
            raise UnsafeFileError(
                f"{where} ist eine binäre Excel-Arbeitsmappe (.xlsb). Bitte als .xlsx speichern."
            )
        raise UnsafeFileError(f"{where} ist ein ZIP-Archiv, aber keine Excel-Arbeitsmappe.")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnsafeFileError(_encrypted_msg(where))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnsafeFileError(
                f"{where}: Teil „{info.filename}“ ist mit einem nicht unterstützten Verfahren komprimiert."
            )
        total += info.file_size
        if info.file_size > _RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise UnsafeFileError(
                    f"{where} sieht aus wie eine ZIP-Bombe: Teil „{info.filename}“ ist {_int_de(round(ratio))}-fach "
                    f"komprimiert ({_mb(info.compress_size)} → {_mb(info.file_size)}); erlaubt ist höchstens "
                    f"{limits.max_ratio:g}-fach (Grenze einstellbar über KPI_MAX_RATIO)."
                )
    if total > limits.max_uncompressed_bytes:
        raise UnsafeFileError(
            f"{where} ist entpackt {_mb(total)} groß; erlaubt sind höchstens "
            f"{_mb(limits.max_uncompressed_bytes)} (Grenze einstellbar über KPI_MAX_UNCOMPRESSED_MB)."
        )

    warnings: list[str] = []
    plain: set[str] = set()
    budget = [limits.max_uncompressed_bytes]
    n_sheets = 0
    for info in infos:
        # Every XML-looking part is scanned as if it were a worksheet: the reader finds sheets
        # through workbook.xml.rels, whose targets need not be named *.xml.
        scan = _SheetScan()
        try:
            _scan_member(zf, info, where, scan, budget, limits)
            if info.filename.lower() == "xl/workbook.xml":  # small; already scanned and capped
                n_sheets = len(_SHEET_TAG.findall(zf.read(info)))
        except UnsafeFileError:
            raise
        except Exception as exc:  # any failure to decompress a member: the file is broken
            raise UnsafeFileError(broken) from exc
        _check_extent(scan, where, info.filename, limits)
        if scan.plain:
            plain.add(info.filename)
    if n_sheets > limits.max_sheets:
        raise UnsafeFileError(
            f"{where} hat {n_sheets} Tabellenblätter; erlaubt sind höchstens {limits.max_sheets} "
            "(Grenze einstellbar über KPI_MAX_SHEETS)."
        )
    if any(n.endswith("vbaproject.bin") for n in lower):
        warnings.append(
            f"{where} enthält Makros (VBA). Sie werden nicht ausgeführt und nicht übernommen; "
            "gelesen werden nur die gespeicherten Zellwerte."
        )
    return Inspection(warnings, frozenset(plain))


def _check_extent(scan: _SheetScan, where: str, member: str, limits: Limits) -> None:
    rows, cols = scan.max_row, scan.max_col
    if rows <= limits.max_rows and cols <= limits.max_cols and rows * cols <= limits.max_cells:
        return
    kind, col, row = scan.far or ("Zelle", cols, rows)
    what = {"c": "eine Zelle", "dimension": "die Blattgröße (dimension)",
            "mergeCell": "ein verbundener Bereich", "hyperlink": "ein Hyperlink-Bereich"}.get(kind, kind)
    sheet = PurePath(member).stem
    raise UnsafeFileError(
        f"{where}, Tabellenblatt-Teil „{sheet}“: {what} reicht bis {_cell_name(col, row)} — das ergäbe "
        f"{_int_de(rows)} Zeilen × {_int_de(cols)} Spalten. Erlaubt sind höchstens "
        f"{_int_de(limits.max_rows)} Zeilen, {_int_de(limits.max_cols)} Spalten und "
        f"{_int_de(limits.max_cells)} Zellen (Grenzen einstellbar über KPI_MAX_ROWS, KPI_MAX_COLS, "
        "KPI_MAX_CELLS). Bitte leere Zeilen und Spalten am Ende des Blatts löschen."
    )


def _scan_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, scan: _SheetScan,
                 budget: list[int], limits: Limits) -> None:
    """Stream-decompress one member with a byte cap; scan XML pieces split at a '<'."""
    declared = info.file_size
    seen = 0
    carry = b""
    first = True
    is_xml = False
    plain = True  # no formula and no error cell seen so far (and no tag split between pieces)
    state = {"row": 0, "col": 0, "exact": False}
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            seen += len(chunk)
            budget[0] -= len(chunk)
            if seen > declared or budget[0] < 0:
                raise UnsafeFileError(
                    f"{where} enthält mehr Daten, als das ZIP-Verzeichnis angibt, oder ist entpackt größer "
                    f"als {_mb(limits.max_uncompressed_bytes)}; die Datei wird als ZIP-Bombe abgelehnt."
                )
            if first:
                first = False
                looks_xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
                if looks_xml and (chunk.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\0" in chunk[:4]):
                    raise UnsafeFileError(
                        f"{where}: Teil „{info.filename}“ ist nicht UTF-8-kodiert; solche Dateien werden "
                        "nicht gelesen."
                    )
                is_xml = chunk.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<"
            if not is_xml:
                continue
            buf = carry + chunk
            cut = buf.rfind(b"<")
            if cut <= 0:
                piece, carry = buf, b""
                plain = False
            else:
                piece, carry = buf[:cut], buf[cut:]
                if len(carry) > _CHUNK:  # a tag can't be this long; scan it as is
                    piece, carry = buf, b""
                    plain = False
            _scan_piece(piece, info.filename, where, scan, state)
            plain = plain and _plain(piece)
    if seen != declared:
        raise UnsafeFileError(f"{where} ist beschädigt (Teil „{info.filename}“ unvollständig).")
    if carry:
        _scan_piece(carry, info.filename, where, scan, state)
        plain = plain and _plain(carry)
    scan.plain = is_xml and plain


def _plain(piece: bytes) -> bool:
    """Whether a piece holds no formula (`<f`) and no error cell (`t="e"`); uint16 compares first."""
    even, odd = _pair_views(piece)
    for pair in (b"<f", b'"e'):
        v = _pair(pair)
        if (even == v).any() or (odd == v).any():
            if pair == b"<f" or b't="e"' in piece:
                return False
    return True


_DTD_MSG = ("{where}: Teil „{member}“ enthält eine DOCTYPE-/ENTITY-Deklaration (mögliche XML-Bombe "
            "oder Zugriff auf fremde Dateien). Excel schreibt so etwas nie; die Datei wird abgelehnt.")
_PAD = 32
_AFTER_C = np.zeros(256, dtype=bool)  # '<c' then space, tab, LF, CR, '>', '/' starts a cell
_AFTER_C[[32, 9, 10, 13, 62, 47]] = True
# a prefixed element that matters (<x:c, </x:row, <x:dimension …): candidates at the colon
_PREFIXED_LOCAL = re.compile(rb":(?:c|row|dimension|mergeCell|hyperlink)[\s/>]")
_ELEMENT_PREFIX = re.compile(rb"</?[\w.-]*")
_RANGE_TAGS = (b"<dimension", b"<mergeCell", b"<hyperlink")


def _scan_piece(piece: bytes, member: str, where: str, scan: _SheetScan, state: dict) -> None:
    """Scan a piece of XML (whole tags only): DOCTYPE/ENTITY, cell extent, range attributes."""
    if not state["exact"] and _fast_scan(piece, member, where, scan):
        return
    if not state["exact"]:
        # Cells without r (position implied), prefixed names or unusual attribute order: from
        # here on scan this part tag by tag (slower, rare); rows continue from what was seen.
        state["exact"] = True
        state["row"] = scan.max_row
    _exact_scan(piece, member, where, scan, state)


def _prefixed_element(piece: bytes) -> bool:
    """Whether a relevant element is written with a namespace prefix (<x:c …>, </x:row>)."""
    for m in _PREFIXED_LOCAL.finditer(piece):
        lt = piece.rfind(b"<", 0, m.start())
        # the colon belongs to an element name when only name characters lie between '<' and it
        if lt >= 0 and _ELEMENT_PREFIX.fullmatch(piece, lt, m.start()):
            return True
    return False


def _pair_views(piece: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The piece as little-endian uint16 at even and at odd offsets: a 2-byte sequence is one compare."""
    n = len(piece)
    return (np.frombuffer(piece, dtype="<u2", count=n // 2),
            np.frombuffer(piece, dtype="<u2", count=(n - 1) // 2, offset=1) if n > 1 else np.zeros(0, "<u2"))


def _pair(text: bytes) -> int:
    return int.from_bytes(text, "little")


def _fast_scan(piece: bytes, member: str, where: str, scan: _SheetScan) -> bool:
    """Vectorised scan for the canonical form (`<c r="A1"` first attribute, no prefixes).

    Whole-piece work is a few uint16 compares (C speed); the rest runs on the cell positions.
    Returns False when the piece is not canonical and needs `_exact_scan`.
    """
    even, odd = _pair_views(piece)

    def has(pair: bytes) -> bool:
        v = _pair(pair)
        return bool((even == v).any() or (odd == v).any())

    if has(b"<!"):  # comments, CDATA, DOCTYPE, ENTITY
        pos = piece.find(b"<!")
        while pos >= 0:
            if _DTD.match(piece, pos):
                raise UnsafeFileError(_DTD_MSG.format(where=where, member=member))
            pos = piece.find(b"<!", pos + 2)
    if b":" in piece and _prefixed_element(piece):
        return False
    for tag in _RANGE_TAGS:
        if not has(tag[:2]):
            continue
        pos = piece.find(tag)
        while pos >= 0:
            m = _RANGE_ATTR.match(piece, pos)
            if m:
                for c, r in _A1.findall(m.group(2)):
                    scan.see(m.group(1).decode(), _col_number(c), int(r))
            pos = piece.find(tag, pos + 1)
    lc = _pair(b"<c")
    lt = np.concatenate([np.flatnonzero(even == lc) * 2, np.flatnonzero(odd == lc) * 2 + 1])
    if lt.size == 0:
        return True
    a = np.frombuffer(piece + b"\0" * _PAD, dtype=np.uint8)
    lt = lt[_AFTER_C[a[lt + 2]]]  # '<c' then space, tab, LF, CR, '>' or '/': a cell (not <col, <cfRule …)
    if lt.size == 0:
        return True
    tags = np.lib.stride_tricks.sliding_window_view(a, 22)[lt]  # each cell tag's first 22 bytes
    # every cell must open as `<c r="`
    if not (np.all(tags[:, 2] == 32) and np.all(tags[:, 3] == 114) and np.all(tags[:, 4] == 61)
            and np.all(tags[:, 5] == 34)):
        return False
    w = tags[:, 6:]  # the reference and what follows
    # column letters A–Z (uint8 arithmetic wraps: one compare per byte); a 4th letter leaves argmin at 0
    nl = np.argmin((w[:, :4] - 65) < 26, axis=1)
    nl_min, nl_max = int(nl.min()), int(nl.max())
    if nl_min == 0 or nl_max > 3:
        return False
    # more letters are a larger column (every letter counts at least 1)
    letters = w[:, :nl_max] if nl_min == nl_max else w[nl == nl_max, :nl_max]
    max_col = int((_lexmax(letters).astype(np.int64) - 64) @ (26 ** np.arange(nl_max - 1, -1, -1)))
    max_row = 0
    for k in range(1, 4):  # per letter count the row digits start at the same column
        sub = w[:, k:k + 11] if nl_min == nl_max == k else w[nl == k, k:k + 11]
        if len(sub) == 0:
            continue
        nd = np.argmin((sub - 48) < 10, axis=1)  # digits up to the first non-digit (11 digits: 0)
        if int(nd.min()) == 0 or int(nd.max()) > 9:
            return False
        if not np.all(sub[np.arange(len(sub)), nd] == 34):  # the reference must end with its quote
            return False
        nd_max = int(nd.max())  # the longest numbers are the largest (no leading zeros in Excel)
        top = sub[:, :nd_max] if int(nd.min()) == nd_max else sub[nd == nd_max, :nd_max]
        # a leading zero would make a long number small: compare shorter ones too when present
        if nd_max > 1 and bool(np.any(top[:, 0] == 48)):
            return False
        max_row = max(max_row, int(bytes(_lexmax(top))))
    scan.see("c", max_col, max_row)
    return True


def _lexmax(rows: np.ndarray) -> np.ndarray:
    """The greatest row of a 2-D uint8 array in lexicographic order (for equal-length references)."""
    for j in range(rows.shape[1]):
        col = rows[:, j]
        rows = rows[col == col.max()]
        if len(rows) == 1:
            break
    return rows[0]


def _exact_scan(piece: bytes, member: str, where: str, scan: _SheetScan, state: dict) -> None:
    """Tag-by-tag scan with regular expressions: prefixes, quotes, cells without r."""
    if _DTD.search(piece):
        raise UnsafeFileError(_DTD_MSG.format(where=where, member=member))
    for m in _ROW_OR_CELL.finditer(piece):
        attrs = m.group(2)
        if m.group(1) == b"row":
            r = _ROW_R.search(attrs)
            state["row"] = int(r.group(1)) if r else state["row"] + 1
            state["col"] = 0
        else:
            # every r="A1"-like text in the tag counts: an upper bound no attribute trick can hide
            found = _CELL_R.findall(attrs)
            if found:
                state["col"] = max(_col_number(c) for c, _ in found)
                row = max(int(r) for _, r in found)
            else:
                state["col"] += 1
                row = max(state["row"], 1)
            scan.see("c", state["col"], row)
    for kind, ref in _RANGE_ATTR.findall(piece):
        for c, r in _A1.findall(ref):
            scan.see(kind.decode(), _col_number(c), int(r))
