"""Cell-level findings the readers hide: formulas without a stored value, error cells (#DIV/0!, #NV).

fastexcel/calamine return both as empty cells, so the row would silently lose its value. A
targeted scan of the worksheet XML (already size-checked by guard.py) names each such cell.
"""

from __future__ import annotations

import re
import zipfile
from io import BytesIO

MAX_PER_KIND = 20

_SHEET = re.compile(rb'<sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]+)"')
_REL = re.compile(rb'<Relationship\b[^>]*?\bId="([^"]+)"[^>]*?\bTarget="([^"]+)"')
_REL2 = re.compile(rb'<Relationship\b[^>]*?\bTarget="([^"]+)"[^>]*?\bId="([^"]+)"')
# a formula cell closed right after its formula: no cached <v> value
_UNCACHED = re.compile(rb'<c r="([A-Z]{1,3}[0-9]{1,7})"[^>]*>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)</c>')
_ERROR = re.compile(
    rb'<c r="([A-Z]{1,3}[0-9]{1,7})"[^>]*\bt="e"[^>]*>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?<v>([^<]*)</v>'
)


def _unescape(raw: bytes) -> str:
    return (raw.decode("utf-8", "replace").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&"))


def _sheet_members(z: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, zip member) in workbook order."""
    try:
        wb = z.read("xl/workbook.xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return []
    targets = {i: t for i, t in _REL.findall(rels)}
    targets.update({i: t for t, i in _REL2.findall(rels)})
    out = []
    for name, rid in _SHEET.findall(wb):
        target = targets.get(rid)
        if target is None:
            continue
        t = target.decode("utf-8", "replace").lstrip("/")
        member = t if t.startswith("xl/") else "xl/" + t
        out.append((_unescape(name), member))
    return out


def workbook_cell_findings(data: bytes, plain_parts: frozenset[str] = frozenset(),
                           ) -> list[tuple[str, str, str | None]]:
    """Return (German message, sheet, cell) for uncached formulas and error cells of an .xlsx/.xlsm.

    `plain_parts`: members the guard scanned whole without a formula or an error cell (not read again).
    """
    if not data.startswith(b"PK"):
        return []
    findings: list[tuple[str, str, str | None]] = []
    try:
        with zipfile.ZipFile(BytesIO(data)) as z:
            for sheet, member in _sheet_members(z):
                if member in plain_parts:
                    continue
                try:
                    xml = z.read(member)
                except KeyError:
                    continue
                if b"<f" in xml:
                    hits = _UNCACHED.findall(xml)
                    for ref in hits[:MAX_PER_KIND]:
                        findings.append(("Formel ohne gespeicherten Wert: der Wert fehlt. Datei in Excel "
                                         "öffnen, neu berechnen lassen und speichern.", sheet, ref.decode()))
                    if len(hits) > MAX_PER_KIND:
                        findings.append((f"… und {len(hits) - MAX_PER_KIND} weitere Formeln ohne "
                                         "gespeicherten Wert.", sheet, None))
                if b't="e"' in xml:
                    hits = _ERROR.findall(xml)
                    for ref, value in hits[:MAX_PER_KIND]:
                        findings.append((f"Fehlerwert „{_unescape(value)}“ in der Zelle: kein Wert "
                                         "übernommen.", sheet, ref.decode()))
                    if len(hits) > MAX_PER_KIND:
                        findings.append((f"… und {len(hits) - MAX_PER_KIND} weitere Zellen mit "
                                         "Fehlerwerten.", sheet, None))
    except (zipfile.BadZipFile, OSError, ValueError):
        return []  # the readers report unreadable files themselves
    return findings
