"""Generate the hostile/broken-file corpus: one small file per case, built from code (no blobs).

Run `python tests/corpus/make_corpus.py OUT_DIR` to write the files; tests call `build(out_dir)`
or the single `CASES[name]()` builders. Every builder returns the file's bytes.
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PNS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def col_letters(n: int) -> str:
    """1 -> A, 27 -> AA, 16384 -> XFD."""
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def cell(ref: str, value, formula: str | None = None, cached: bool = True) -> str:
    """One <c> element: numbers as n, strings inline, errors as e, optional formula."""
    f = f"<f>{_esc(formula)}</f>" if formula else ""
    if isinstance(value, str) and value.startswith("#") and value.endswith(("!", "?", "A", "V")) and len(value) < 9:
        return f'<c r="{ref}" t="e">{f}<v>{_esc(value)}</v></c>'
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr">{f}<is><t xml:space="preserve">{_esc(value)}</t></is></c>'
    if value is None or not cached:
        return f'<c r="{ref}">{f}</c>'
    return f'<c r="{ref}">{f}<v>{value!r}</v></c>'


def sheet_xml(rows: list[list], dimension: str | None = None, extra: str = "", prolog: str = "") -> str:
    """Worksheet XML from a list of rows (values; a tuple (value, formula, cached) makes a formula)."""
    out = []
    for i, row in enumerate(rows, start=1):
        cells = []
        for j, v in enumerate(row, start=1):
            if v is None:
                continue
            ref = f"{col_letters(j)}{i}"
            cells.append(cell(ref, v[0], v[1], v[2]) if isinstance(v, tuple) else cell(ref, v))
        out.append(f'<row r="{i}">{"".join(cells)}</row>')
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{prolog}'
            f'<worksheet xmlns="{NS}" xmlns:r="{RNS}">{dim}<sheetData>{"".join(out)}</sheetData>{extra}</worksheet>')


def xlsx(sheets: dict[str, str], extra_parts: dict[str, bytes] | None = None, macro: bool = False,
         compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A minimal valid workbook from worksheet XML strings (no styles, inline strings)."""
    names = list(sheets)
    wb_ct = ("application/vnd.ms-excel.sheet.macroEnabled.main+xml" if macro else
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{CT_SHEET}"/>'
        for i in range(1, len(names) + 1))
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          + ('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if macro else "")
          + f'<Override PartName="/xl/workbook.xml" ContentType="{wb_ct}"/>{overrides}</Types>')
    rels = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PNS}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    wb = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{NS}" xmlns:r="{RNS}"><sheets>'
          + "".join(f'<sheet name="{_esc(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, 1))
          + "</sheets></workbook>")
    wb_rels = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PNS}">'
               + "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
                         f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
                         for i in range(1, len(names) + 1))
               + (f'<Relationship Id="rId{len(names) + 1}" Type="http://schemas.microsoft.com/office/2006/'
                  'relationships/vbaProject" Target="vbaProject.bin"/>' if macro else "")
               + "</Relationships>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", wb_rels)
        for i, n in enumerate(names, 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", sheets[n])
        for name, data in (extra_parts or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


HEADER = ["Kommune", "Maßnahme", "Kennzahl", "Monat", "Wert"]


def valid_rows(n: int = 6) -> list[list]:
    """A small long table in the user's layout (German headers, text periods)."""
    rows = [HEADER]
    for i in range(n):
        rows.append(["Musterstadt", "Online-Bauantrag", "fallzahl", f"2024-{i % 12 + 1:02d}",
                     100 + i])
    return rows


def valid_xlsx() -> bytes:
    return xlsx({"Daten": sheet_xml(valid_rows(), dimension="A1:E7")})


def valid_csv() -> bytes:
    lines = [";".join(HEADER)] + [f"Musterstadt;Online-Bauantrag;fallzahl;2024-0{i + 1};{100 + i}"
                                  for i in range(6)]
    return ("\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- hostile / broken cases

def _zip_raw(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """Hand-built zip: (name, raw deflate data, crc, declared size, method). Sizes may lie on purpose."""
    local, central = io.BytesIO(), io.BytesIO()
    for name, raw, crc, size, method in members:
        off = local.tell()
        nb = name.encode()
        local.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(raw), size,
                                len(nb), 0) + nb + raw)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc,
                                  len(raw), size, len(nb), 0, 0, 0, 0, 0, off) + nb)
    cd = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), local.tell(), 0)
    return local.getvalue() + cd + end


def _bomb(total: int, declared: int | None = None) -> bytes:
    """A workbook whose sheet XML is one cell followed by `total` bytes of whitespace.

    Built fast: one 1 MiB block of spaces is compressed once after a full flush (no back
    references cross it) and repeated; only the CRC runs over all the bytes.
    """
    head = sheet_xml([["x"]]).encode()
    cut = head.index(b"</worksheet>")
    chunk = b" " * (1 << 20)
    c1 = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c1.compress(head[:cut]) + c1.flush(zlib.Z_FULL_FLUSH)
    c2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c2.compress(chunk) + c2.flush(zlib.Z_FULL_FLUSH)
    c3 = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = c3.compress(head[cut:]) + c3.flush()
    n = total // len(chunk)
    crc = zlib.crc32(head[:cut])
    for _ in range(n):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(head[cut:], crc)
    raw = first + block * n + last
    size = len(head) + n * len(chunk)
    base = zipfile.ZipFile(io.BytesIO(valid_xlsx()))
    members = []
    for info in base.infolist():
        if info.filename.startswith("xl/worksheets/"):
            continue
        data = base.read(info)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        members.append((info.filename, c.compress(data) + c.flush(), zlib.crc32(data), len(data), 8))
    members.append(("xl/worksheets/sheet1.xml", raw, crc, size if declared is None else declared, 8))
    return _zip_raw(members)


def zip_bomb() -> bytes:
    """300 MB of sheet XML in ~300 KB (over the total-size limit)."""
    return _bomb(300 * 2**20)


def zip_bomb_ratio() -> bytes:
    """30 MB of sheet XML in ~30 KB: under the size limit, but ratio ~1000:1."""
    return _bomb(30 * 2**20)


def zip_bomb_lying() -> bytes:
    """The central directory claims 2 KB, the deflate data holds 300 MB."""
    return _bomb(300 * 2**20, declared=2048)


def huge_dimension() -> bytes:
    """calamine #693: one cell at A1 and one at XFD1048576 (5 KB file, 512 GiB in the reader)."""
    body = ('<row r="1"><c r="A1"><v>1</v></c></row>'
            '<row r="1048576"><c r="XFD1048576"><v>2</v></c></row>')
    return xlsx({"Daten": f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{NS}">'
                          f'<dimension ref="A1:XFD1048576"/><sheetData>{body}</sheetData></worksheet>'})


def huge_dimension_norefs() -> bytes:
    """Cells without r attributes: 20.000 empty cells in row 1 and a far row (position implied)."""
    body = '<row r="1">' + "<c/>" * 20000 + '<c><v>1</v></c></row><row r="1048576"><c><v>2</v></c></row>'
    return xlsx({"Daten": f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{NS}">'
                          f'<sheetData>{body}</sheetData></worksheet>'})


def ten_digit_row() -> bytes:
    """Found by the fuzzer: a row number with 10 digits (calamine tried to allocate 16 TB)."""
    rows = valid_rows()
    xml = sheet_xml(rows).replace('<c r="E7">', '<c r="SG1000000000">')
    return xlsx({"Daten": xml})


def five_letter_column() -> bytes:
    """A column reference with five letters (beyond XFD), in the exact (non-canonical) form."""
    xml = sheet_xml(valid_rows()).replace('<c r="E7">', "<c s='0' r='AAAAA7'>")
    return xlsx({"Daten": xml})


def huge_merge() -> bytes:
    """A normal cell plus a merged range over the whole sheet (openpyxl creates a cell per merged cell)."""
    return xlsx({"Daten": sheet_xml(valid_rows(), extra='<mergeCells count="1"><mergeCell ref="A1:XFD1048576"/>'
                                                       '</mergeCells>')})


def lying_dimension() -> bytes:
    """Six rows of data, but <dimension> claims the whole sheet."""
    return xlsx({"Daten": sheet_xml(valid_rows(), dimension="A1:XFD1048576")})


def xml_bomb() -> bytes:
    """Billion laughs in the sheet XML."""
    ents = '<!ENTITY lol "lol">' + "".join(
        '<!ENTITY lol{} "{}">'.format(i, ("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10)
        for i in range(1, 10))
    prolog = f"<!DOCTYPE worksheet [{ents}]>\n"
    rows = valid_rows()
    rows[1][0] = "&lol9;"
    xml = sheet_xml(rows, prolog=prolog).replace("&amp;lol9;", "&lol9;")
    return xlsx({"Daten": xml})


def external_entity() -> bytes:
    """An external entity pointing at /etc/passwd in sharedStrings-free sheet XML."""
    prolog = '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    rows = valid_rows()
    rows[1][0] = "&xxe;"
    xml = sheet_xml(rows, prolog=prolog).replace("&amp;xxe;", "&xxe;")
    return xlsx({"Daten": xml})


def entity_in_workbook_xml() -> bytes:
    """DOCTYPE hidden in a non-sheet part ([Content_Types].xml is rewritten)."""
    base = zipfile.ZipFile(io.BytesIO(valid_xlsx()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in base.infolist():
            data = base.read(info)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"?>\n", b'?>\n<!DOCTYPE workbook [<!ENTITY a "b">]>\n', 1)
            z.writestr(info.filename, data)
    return buf.getvalue()


# --- a minimal OLE2 compound file writer (512-byte sectors, regular streams only) ----------------

def cfb(streams: dict[str, bytes], fat_patch: dict[int, int] | None = None, _pad: int = 48) -> bytes:
    """A compound file holding `streams` at root level (each padded to >= 4096 bytes).

    `fat_patch` overwrites FAT entries (sector -> next) to build broken chains on purpose.
    """
    sec = 512
    ENDOFCHAIN, FREESECT, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    payloads = [(n, d + b"\0" * max(0, 4096 - len(d))) for n, d in streams.items()]
    sectors: list[bytes] = []
    fat: list[int] = []
    starts = []
    for _, d in payloads:
        n = -(-len(d) // sec)
        start = len(sectors)
        starts.append(start)
        for i in range(n):
            sectors.append(d[i * sec:(i + 1) * sec].ljust(sec, b"\0"))
            fat.append(start + i + 1 if i < n - 1 else ENDOFCHAIN)
    # directory: root + streams, 128 bytes each, 4 per sector; streams chained as right siblings
    entries = []

    def entry(name: str, typ: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
        nb = name.encode("utf-16-le") + b"\0\0"
        return (nb.ljust(64, b"\0") + struct.pack("<HBBIII", len(nb), typ, 1, left, right, child)
                + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<IQ", start, size))

    NOSTREAM = 0xFFFFFFFF
    n = len(payloads)
    entries.append(entry("Root Entry", 5, NOSTREAM, NOSTREAM, 1 if n else NOSTREAM, ENDOFCHAIN, 0))
    for i, ((name, d), start) in enumerate(zip(payloads, starts, strict=True), start=1):
        entries.append(entry(name, 2, NOSTREAM, i + 1 if i < n else NOSTREAM, NOSTREAM, start, len(d)))
    while len(entries) % 4:
        entries.append(b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM) + b"\0" * _pad)
    dir_start = len(sectors)
    for i in range(0, len(entries), 4):
        sectors.append(b"".join(entries[i:i + 4]))
        fat.append(len(sectors) if i + 4 < len(entries) else ENDOFCHAIN)
    fat_start = len(sectors)
    n_fat = 1
    while (len(fat) + n_fat) > n_fat * (sec // 4):
        n_fat += 1
    fat.extend([FATSECT] * n_fat)
    fat.extend([FREESECT] * (n_fat * (sec // 4) - len(fat)))
    for k, v in (fat_patch or {}).items():
        fat[k] = v
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    for i in range(n_fat):
        sectors.append(fat_bytes[i * sec:(i + 1) * sec])
    difat = [fat_start + i for i in range(n_fat)] + [FREESECT] * (109 - n_fat)
    header = (bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, 4096, ENDOFCHAIN, 0,
                                         ENDOFCHAIN, 0)
              + struct.pack("<109I", *difat))
    assert len(header) == 512
    return header + b"".join(sectors)


def encrypted_xlsx() -> bytes:
    """What Excel writes for a password-protected .xlsx: OLE2 with EncryptionInfo + EncryptedPackage."""
    return cfb({"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + b"<encryption/>",
                "EncryptedPackage": struct.pack("<Q", 1234) + bytes(range(256)) * 8})


def ole_doc_as_xls() -> bytes:
    """An OLE2 file without a workbook stream (e.g. a Word .doc renamed to .xls)."""
    return cfb({"WordDocument": b"\xec\xa5" + b"\0" * 100})


def minimal_xls_stream() -> bytes:
    """An OLE2 with a 'Workbook' stream holding BOF/EOF only (structurally an .xls)."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0, 0, 0, 0)
    eof = struct.pack("<HH", 0x000A, 0)
    return cfb({"Workbook": bof + eof})


def ole_cyclic_chain() -> bytes:
    """An .xls whose Workbook stream's sector chain loops back on itself (calamine aborts on it)."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0, 0, 0, 0)
    return cfb({"Workbook": bof + struct.pack("<HH", 0x000A, 0)}, fat_patch={3: 0})


def ole_misaligned() -> bytes:
    """Directory entries 4 bytes too long (a writer bug): calamine tries to allocate 1 GiB and aborts."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0, 0, 0, 0)
    return cfb({"Workbook": bof + struct.pack("<HH", 0x000A, 0)}, _pad=52)


def big_xlsx(n_rows: int, n_cols: int = 8) -> bytes:
    """A realistic long workbook (shared strings like Excel writes) for speed measurements."""
    strings = ["Kommune", "Maßnahme", "Kennzahl", "Monat", "Wert", "Einheit", "Quelle", "Bemerkung",
               "Musterstadt", "Online-Bauantrag", "antraege_gesamt", "Anzahl", "Fachverfahren", "geprüft"]
    idx = {t: i for i, t in enumerate(strings)}
    rows = ['<row r="1">' + "".join(f'<c r="{col_letters(j + 1)}1" t="s"><v>{j}</v></c>' for j in range(n_cols))
            + "</row>"]
    for i in range(2, n_rows + 2):
        cells = [f'<c r="A{i}" t="s"><v>{idx["Musterstadt"]}</v></c>',
                 f'<c r="B{i}" t="s"><v>{idx["Online-Bauantrag"]}</v></c>',
                 f'<c r="C{i}" t="s"><v>{idx["antraege_gesamt"]}</v></c>',
                 f'<c r="D{i}" s="1"><v>{45000 + i % 3000}</v></c>',
                 f'<c r="E{i}"><v>{(i * 7919) % 100003 / 7:.4f}</v></c>',
                 f'<c r="F{i}" t="s"><v>{idx["Anzahl"]}</v></c>',
                 f'<c r="G{i}" t="s"><v>{idx["Fachverfahren"]}</v></c>',
                 f'<c r="H{i}" t="s"><v>{idx["geprüft"]}</v></c>'][:n_cols]
        rows.append(f'<row r="{i}">{"".join(cells)}</row>')
    sheet = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS}">'
             f'<dimension ref="A1:{col_letters(n_cols)}{n_rows + 1}"/><sheetData>{"".join(rows)}</sheetData>'
             "</worksheet>")
    sst = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{NS}" count="{len(strings)}" '
           f'uniqueCount="{len(strings)}">' + "".join(f"<si><t>{_esc(t)}</t></si>" for t in strings) + "</sst>")
    styles = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{NS}">'
              '<numFmts count="1"><numFmt numFmtId="164" formatCode="mmm yyyy"/></numFmts>'
              '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>'
              '<cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf/>'
              '<xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>')
    data = xlsx({"Daten": sheet}, extra_parts={"xl/sharedStrings.xml": sst.encode(), "xl/styles.xml": styles.encode()})
    # register shared strings and styles like Excel does
    z = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
        for info in z.infolist():
            part = z.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                part = part.replace(b"</Relationships>",
                                    b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/'
                                    b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                                    b'<Relationship Id="rIdT" Type="http://schemas.openxmlformats.org/officeDocument/'
                                    b'2006/relationships/styles" Target="styles.xml"/></Relationships>')
            w.writestr(info.filename, part)
    return out.getvalue()


def xls_as_xlsx() -> bytes:
    return minimal_xls_stream()


def pdf_as_xlsx() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def csv_as_xlsx() -> bytes:
    return valid_csv()


def xlsx_as_csv() -> bytes:
    return valid_xlsx()


def truncated_zip() -> bytes:
    data = valid_xlsx()
    return data[: len(data) // 2]


def empty_file() -> bytes:
    return b""


def empty_workbook() -> bytes:
    """A workbook with one sheet and no cells."""
    return xlsx({"Tabelle1": sheet_xml([])})


def no_header() -> bytes:
    """Numbers only: no header row to recognise."""
    return xlsx({"Daten": sheet_xml([[1, 2, 3], [4, 5, 6], [7, 8, 9]])})


def macro_xlsm() -> bytes:
    """A macro-enabled workbook with a (dummy) vbaProject.bin: accepted with a warning, never executed."""
    return xlsx({"Daten": sheet_xml(valid_rows())}, extra_parts={"xl/vbaProject.bin": cfb({"VBA": b"x"})},
                macro=True)


def formulas_uncached() -> bytes:
    """Values computed by formulas that were never calculated (no <v>)."""
    rows = valid_rows()
    rows[1][4] = (None, "SUM(1,2)", False)
    rows[2][4] = (None, "E2*2", False)
    return xlsx({"Daten": sheet_xml(rows)})


def error_cells() -> bytes:
    rows = valid_rows()
    rows[1][4] = "#DIV/0!"
    rows[2][4] = "#N/A"
    return xlsx({"Daten": sheet_xml(rows)})


def dates_as_text() -> bytes:
    rows = valid_rows(7)
    for r, text in zip(rows[1:], ["März 2024", "03/2024", "Mrz. 24", "Q1 2024", "1. Quartal 2024", "2024",
                                  "15.03.2024"], strict=True):
        r[3] = text
    return xlsx({"Daten": sheet_xml(rows)})


def long_strings() -> bytes:
    rows = valid_rows()
    rows[1][1] = "Maßnahme " + "x" * 20000
    return xlsx({"Daten": sheet_xml(rows)})


def control_chars() -> bytes:
    rows = valid_rows()
    rows[1][0] = "Muster\u0007stadt\u001b"
    rows[2][4] = "1\u00002"  # not valid XML: NUL as character reference is refused by XML 1.0
    xml = sheet_xml(rows).replace("\u0000", "&#0;")
    return xlsx({"Daten": xml.replace("\u0007", "&#7;").replace("\u001b", "&#27;")})


def csv_nul() -> bytes:
    return valid_csv().replace(b"Musterstadt", b"Muster\0stadt", 1)


def csv_undecodable() -> bytes:
    return valid_csv() + b"\x81\x8d\x8f\x90\x9d;\xff\xfe\n"


def csv_utf16() -> bytes:
    return valid_csv().decode().encode("utf-16")


def csv_cp1252() -> bytes:
    return valid_csv().decode().replace("Maßnahme", "Maßnahme").encode("cp1252")


def many_sheets() -> bytes:
    return xlsx({f"Blatt {i}": sheet_xml([["x"]]) for i in range(1, 60)})


def duplicate_member() -> bytes:
    """Two zip members with the same name (readers disagree which one counts)."""
    data = io.BytesIO()
    base = zipfile.ZipFile(io.BytesIO(valid_xlsx()))
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as z:
        for info in base.infolist():
            z.writestr(info.filename, base.read(info))
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z.writestr("xl/worksheets/sheet1.xml", huge_dimension_sheet())
    return data.getvalue()


def huge_dimension_sheet() -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{NS}"><sheetData>'
            '<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>'
            '</sheetData></worksheet>')


def prefixed_huge() -> bytes:
    """Namespace-prefixed elements (x:row, x:c) with single quotes: the scan must still see XFD1048576."""
    xml = (f"<?xml version='1.0' encoding='UTF-8'?>\n<x:worksheet xmlns:x='{NS}'><x:sheetData>"
           "<x:row r='1'><x:c r='A1'><x:v>1</x:v></x:c></x:row>"
           "<x:row r='1048576'><x:c s='0' r = 'XFD1048576'><x:v>2</x:v></x:c></x:row>"
           "</x:sheetData></x:worksheet>")
    return xlsx({"Daten": xml})


def not_a_workbook_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hallo")
    return buf.getvalue()


def ods_as_xlsx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    return buf.getvalue()


def encrypted_zip_member() -> bytes:
    """A workbook whose sheet member has the 'encrypted' flag set."""
    data = bytearray(valid_xlsx())
    z = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = z.getinfo("xl/worksheets/sheet1.xml")
    # set bit 0 of the general purpose flags in the local header and in the central directory entry
    data[info.header_offset + 6] |= 1
    cd = bytes(data).rfind(b"PK\x01\x02" + bytes(data[bytes(data).rfind(b"PK\x01\x02"):][4:6]))
    pos = 0
    while True:
        pos = bytes(data).find(b"PK\x01\x02", pos)
        if pos < 0:
            break
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == b"xl/worksheets/sheet1.xml":
            data[pos + 8] |= 1
        pos += 4
    del cd
    return bytes(data)


# name -> (file name, builder, expected: "refuse" | "warn" | "accept")
CASES: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "valid": ("gueltig.xlsx", valid_xlsx, "accept"),
    "valid_csv": ("gueltig.csv", valid_csv, "accept"),
    "csv_cp1252": ("ansi.csv", csv_cp1252, "accept"),
    "zip_bomb": ("bombe.xlsx", zip_bomb, "refuse"),
    "zip_bomb_ratio": ("bombe_ratio.xlsx", zip_bomb_ratio, "refuse"),
    "zip_bomb_lying": ("bombe_luege.xlsx", zip_bomb_lying, "refuse"),
    "huge_dimension": ("riesig.xlsx", huge_dimension, "refuse"),
    "huge_dimension_norefs": ("riesig_ohne_r.xlsx", huge_dimension_norefs, "refuse"),
    "prefixed_huge": ("riesig_prefix.xlsx", prefixed_huge, "refuse"),
    "huge_merge": ("verbunden.xlsx", huge_merge, "refuse"),
    "ten_digit_row": ("zehnstellig.xlsx", ten_digit_row, "refuse"),
    "five_letter_column": ("fuenf_buchstaben.xlsx", five_letter_column, "refuse"),
    "lying_dimension": ("dimension.xlsx", lying_dimension, "refuse"),
    "xml_bomb": ("xmlbombe.xlsx", xml_bomb, "refuse"),
    "external_entity": ("xxe.xlsx", external_entity, "refuse"),
    "entity_in_workbook_xml": ("xxe_wb.xlsx", entity_in_workbook_xml, "refuse"),
    "encrypted": ("passwort.xlsx", encrypted_xlsx, "refuse"),
    "encrypted_as_xls": ("passwort.xls", encrypted_xlsx, "refuse"),
    "encrypted_zip_member": ("zipverschl.xlsx", encrypted_zip_member, "refuse"),
    "doc_as_xls": ("brief.xls", ole_doc_as_xls, "refuse"),
    "ole_cyclic_chain": ("schleife.xls", ole_cyclic_chain, "refuse"),
    "ole_misaligned": ("verschoben.xls", ole_misaligned, "refuse"),
    "minimal_xls": ("minimal.xls", minimal_xls_stream, "accept"),
    "xls_as_xlsx": ("alt.xlsx", xls_as_xlsx, "refuse"),
    "pdf_as_xlsx": ("bericht.xlsx", pdf_as_xlsx, "refuse"),
    "csv_as_xlsx": ("text.xlsx", csv_as_xlsx, "refuse"),
    "xlsx_as_csv": ("mappe.csv", xlsx_as_csv, "refuse"),
    "ods_as_xlsx": ("calc.xlsx", ods_as_xlsx, "refuse"),
    "not_a_workbook_zip": ("archiv.xlsx", not_a_workbook_zip, "refuse"),
    "truncated_zip": ("abgeschnitten.xlsx", truncated_zip, "refuse"),
    "empty_file": ("leer.xlsx", empty_file, "refuse"),
    "empty_csv": ("leer.csv", empty_file, "refuse"),
    "unsupported_ext": ("daten.ods", valid_xlsx, "refuse"),
    "many_sheets": ("viele.xlsx", many_sheets, "refuse"),
    "duplicate_member": ("doppelt.xlsx", duplicate_member, "refuse"),
    "csv_nul": ("nul.csv", csv_nul, "refuse"),
    "csv_undecodable": ("kaputt.csv", csv_undecodable, "refuse"),
    "csv_utf16": ("utf16.csv", csv_utf16, "refuse"),
    # accepted by the byte-level guard; the parser/validation reports them cell by cell
    "empty_workbook": ("leere_mappe.xlsx", empty_workbook, "accept"),
    "no_header": ("ohne_kopf.xlsx", no_header, "accept"),
    "macro_xlsm": ("makro.xlsm", macro_xlsm, "warn"),
    "formulas_uncached": ("formeln.xlsx", formulas_uncached, "accept"),
    "error_cells": ("fehlerzellen.xlsx", error_cells, "accept"),
    "dates_as_text": ("datumstext.xlsx", dates_as_text, "accept"),
    "long_strings": ("langtext.xlsx", long_strings, "accept"),
    "control_chars": ("steuerzeichen.xlsx", control_chars, "accept"),
}


def build(out_dir: Path) -> dict[str, Path]:
    """Write every case into `out_dir`; return name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (file_name, builder, _) in CASES.items():
        p = out_dir / f"{name}__{file_name}"
        p.write_bytes(builder())
        paths[name] = p
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus_out")
    for name, path in build(target).items():
        print(f"{name:28} {path.stat().st_size:>9} B  {path}")
