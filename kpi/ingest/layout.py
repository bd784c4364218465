"""Recognising a sheet's layout and turning it into long records (one row per value).

Layouts: *long* (Kommune | Maßnahme | Kennzahl | Zeitraum | Wert …), *wide* (one row per
KPI and Maßnahme, one column per period, possibly with a merged year row above month
columns) and *KPI columns* (Zeitraum | fallzahl | online_faelle …). Title rows above the
header, blank rows and footers are skipped; totals rows are reported by validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from kpi.ingest import arrays as A
from kpi.ingest import compute as pc
from kpi.ingest.parse import (
    ambiguous_mask,
    col_index,
    col_letter,
    fast_numbers,
    fold,
    number_status,
    parse_period,
)
from kpi.ingest.read import Grid

SYNONYMS: dict[str, tuple[str, ...]] = {
    "kommune": ("kommune", "gemeinde", "stadt", "kreis", "landkreis", "municipality", "kommunenname",
                "gemeindename", "namederkommune", "ort", "city", "town"),
    "massnahme": ("massnahme", "massnahmen", "projekt", "vorhaben", "project", "measure", "leistung",
                  "dienst", "onlinedienst", "verfahren", "digitalisierungsvorhaben"),
    "kpi": ("kennzahl", "kennzahlen", "kpi", "indikator", "indicator", "messgroesse", "kennziffer",
            "metrik", "metric", "kennzahlschluessel"),
    "period": ("datum", "monat", "periode", "zeitraum", "jahr", "quartal", "date", "month", "period",
               "year", "quarter", "stichtag", "berichtsmonat", "berichtsjahr", "berichtszeitraum"),
    "value": ("wert", "betrag", "anzahl", "value", "amount", "istwert", "messwert", "menge", "ist"),
    "unit": ("einheit", "unit", "masseinheit"),
    "note": ("bemerkung", "bemerkungen", "kommentar", "anmerkung", "hinweis", "note", "comment", "notiz"),
}
_ROLE_OF: dict[str, str] = {s: role for role, syns in SYNONYMS.items() for s in syns}
ROLE_DE = {"kommune": "Kommune", "massnahme": "Maßnahme", "kpi": "Kennzahl", "period": "Zeitraum",
           "value": "Wert", "unit": "Einheit", "note": "Bemerkung"}
FIELDS = ("kommune", "massnahme", "kpi", "period", "value", "unit")

HEADER_SCAN_ROWS = 30
_PARENS = re.compile(r"\(.*?\)|\[.*?\]")


def header_role(text: str | None) -> str | None:
    """The role a header cell names (by synonym, ignoring '(…)' and words after the first), or None."""
    if not text:
        return None
    t = _PARENS.sub(" ", text)
    f = fold(t)
    if f in _ROLE_OF:
        return _ROLE_OF[f]
    words = t.strip().split()
    # 'Wert in €', 'Monat JJJJ-MM': the first word names the column, the rest is a unit or format
    if words and fold(words[0]) in _ROLE_OF and all(fold(w) in _TAIL_WORDS for w in words[1:]):
        return _ROLE_OF[fold(words[0])]
    return None


_TAIL_WORDS = {"", "in", "eur", "euro", "€", "%", "tsd", "jjjjmm", "mmjjjj", "ttmmjjjj", "jjjj", "ist",
               "je", "monat", "pro"}


@dataclass
class Layout:
    kind: str  # long | wide | kpi_columns | unknown | empty
    header: int | None = None  # grid row of the (last) header row
    roles: dict[str, int] = field(default_factory=dict)  # role -> grid column
    period_cols: dict[int, str] = field(default_factory=dict)  # wide: column -> period text
    kpi_cols: dict[int, str] = field(default_factory=dict)  # kpi_columns: column -> kpi text
    constants: dict[str, str] = field(default_factory=dict)  # e.g. kommune from a title row
    where: dict[int, str] = field(default_factory=dict)  # column -> required value

    def describe_de(self, grid: Grid) -> str:
        head = f"Blatt „{grid.name}“: "
        if self.kind == "empty":
            return head + "leer"
        if self.kind == "unknown":
            return head + "Aufbau nicht erkannt"
        row = grid.excel_row(self.header) if self.header is not None else None
        hr = f"Kopfzeile {row}" if row else "ohne Kopfzeile"
        if self.kind == "long":
            return head + f"lange Tabelle ({hr})"
        if self.kind == "wide":
            return head + f"breite Tabelle, {len(self.period_cols)} Zeitraum-Spalten ({hr})"
        return head + f"eine Spalte je Kennzahl, {len(self.kpi_cols)} Kennzahlen ({hr})"


def _combined_header(grid: Grid, r: int) -> list[str | None]:
    """Header texts of row r, each prefixed… suffixed by the (merged, forward-filled) group label above."""
    row = grid.row_values(r)
    if r == 0:
        return row
    above = grid.row_values(r - 1)
    filled, last = [], None
    for v in above:
        last = v if v is not None else last
        filled.append(last)
    return [f"{v} {filled[i]}" if v is not None and filled[i] is not None else v for i, v in enumerate(row)]


def _title_kommune(grid: Grid, upto: int) -> str | None:
    """A Kommune named in a title row above the header: 'Kommune: Musterstadt' or 'Kommune' | 'Musterstadt'."""
    for r in range(min(upto, HEADER_SCAN_ROWS)):
        vals = grid.row_values(r)
        for c, v in enumerate(vals):
            if v is None:
                continue
            m = re.match(r"^\s*(kommune|gemeinde|stadt|landkreis|kreis)\s*:\s*(.+)$", v, re.I)
            if m:
                return m.group(2).strip()
            if v.rstrip(":").strip().lower() in ("kommune", "gemeinde", "stadt") and v.endswith(":"):
                nxt = next((x for x in vals[c + 1:] if x), None)
                if nxt:
                    return nxt
    return None


_PLAIN_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")
_TIMESTAMP = re.compile(r"\d{1,2}:\d{2}")


def _header_period(text: str | None):
    """A period named by a header cell (not a timestamp of a data row)."""
    if text is None or header_role(text) is not None:
        return None
    if _TIMESTAMP.search(text) and not text.endswith("00:00:00"):
        return None
    return parse_period(text)


def _looks_like_data(row: list[str | None]) -> bool:
    """A row with plain numbers that are no years is data, not a header."""
    for v in row:
        if v is not None and _PLAIN_NUMBER.match(v) and _header_period(v) is None:
            return True
    return False


def detect(grid: Grid, is_kpi) -> Layout:
    """Find the header row (the first that names the columns) and the layout of a sheet.

    `is_kpi(text)` tells whether a text names a KPI.
    """
    if grid.n_cols == 0 or grid.n_rows == 0:
        return Layout("empty")
    best: Layout | None = None
    for r in range(min(HEADER_SCAN_ROWS, grid.n_rows)):
        row = grid.row_values(r)
        if sum(v is not None for v in row) < 2 or _looks_like_data(row):
            continue
        roles: dict[str, int] = {}
        for c, v in enumerate(row):
            role = header_role(v)
            if role and role not in roles:
                roles[role] = c
        # wide: period columns (directly, or with the merged year row above)
        periods: dict[int, str] = {}
        two_rows = False
        for variant in (row, _combined_header(grid, r)):
            found = {c: v for c, v in enumerate(variant) if _header_period(v) is not None}
            grans = {_header_period(v)[1] for v in found.values()}
            starts = {_header_period(v) for v in found.values()}
            if len(found) > len(periods) and len(grans) == 1 and len(starts) == len(found):
                periods, two_rows = found, variant is not row
        if two_rows:
            # labels of a two-row header may sit in the upper row (merged vertically)
            for c, v in enumerate(grid.row_values(r - 1)):
                role = header_role(v)
                if role and role not in roles and c not in periods:
                    roles[role] = c
        kpis = {c: v for c, v in enumerate(row) if v is not None and c not in roles.values() and is_kpi(v)}
        if len(periods) >= 2 and "value" not in roles:
            best = Layout("wide", r, {k: v for k, v in roles.items() if k != "period"}, period_cols=periods)
        elif kpis and "period" in roles and "value" not in roles:
            best = Layout("kpi_columns", r, {k: v for k, v in roles.items() if k != "kpi"}, kpi_cols=kpis)
        elif "value" in roles and len(roles) >= 2:
            best = Layout("long", r, roles)
        else:
            continue
        break
    if best is None:
        return Layout("unknown")
    if best.kind == "wide" and "kpi" not in best.roles:
        # the first text column left of the periods that holds KPI names
        first_period = min(best.period_cols)
        for c in range(first_period):
            if c in best.roles.values():
                continue
            vals = [grid.cell(r, c) for r in range(best.header + 1, min(grid.n_rows, best.header + 40))]
            vals = [v for v in vals if v]
            if vals and sum(map(is_kpi, vals)) >= max(1, len(vals) // 2):
                best.roles["kpi"] = c
                break
    if "kommune" not in best.roles:
        k = _title_kommune(grid, best.header)
        if k:
            best.constants["kommune"] = k
    return best


def missing_fields(lay: Layout) -> list[str]:
    """Fields a recognised layout can fill neither from a column nor from a constant."""
    have = set(lay.roles) | set(lay.constants)
    if lay.kind == "wide":
        have |= {"period", "value"}
    if lay.kind == "kpi_columns":
        have |= {"kpi", "value"}
    return [f for f in ("kommune", "kpi", "period", "value") if f not in have]


def resolve_column(grid: Grid, header: int | None, ref: str) -> int:
    """Grid column named by header text (case/space-insensitive) or Excel letter; KeyError(German)."""
    ref_s = ref.strip()
    if header is not None and header >= 0:
        target = fold(ref_s)
        for c, v in enumerate(grid.row_values(header)):
            if v is not None and fold(v) == target:
                return c
    if re.fullmatch(r"[A-Za-z]{1,3}", ref_s):
        c = col_index(ref_s) - grid.col0
        if 0 <= c < grid.n_cols:
            return c
        if c >= 0:  # a column right of the data: empty
            return -1
    raise KeyError(f"Spalte „{ref}“ gibt es in Blatt „{grid.name}“ nicht"
                   + (f" (Kopfzeile {grid.excel_row(header)})" if header is not None and header >= 0 else "")
                   + ".")


def _header_with(grid: Grid, refs: list[str]) -> int | None:
    """The first row holding every column name among `refs` that is no Excel letter."""
    names = {fold(r) for r in refs if not re.fullmatch(r"[A-Za-z]{1,3}", r.strip())}
    if not names:
        return None
    for r in range(min(HEADER_SCAN_ROWS, grid.n_rows)):
        if names <= {fold(v) for v in grid.row_values(r) if v is not None}:
            return r
    return None


def profile_layout(grid: Grid, profile) -> Layout:
    """Layout from an import profile: header row, column map, constants and row filter."""
    if profile.header_row is None:
        header = _header_with(grid, [*profile.map.values(), *profile.where])
        if header is None:
            lay = detect(grid, lambda _t: False)
            header = lay.header if lay.kind not in ("unknown", "empty") else None
    elif profile.header_row == 0:
        header = -1
    else:
        header = profile.header_row - grid.row0
        if header < 0 or header >= grid.n_rows:
            raise KeyError(f"Kopfzeile {profile.header_row} liegt außerhalb der Daten von Blatt „{grid.name}“.")
    roles: dict[str, int] = {}
    if header is not None and header >= 0:
        for c, v in enumerate(grid.row_values(header)):
            role = header_role(v)
            if role and role not in roles and role not in profile.set:
                roles[role] = c
    for fld, ref in profile.map.items():
        roles[fld] = resolve_column(grid, header, ref)
    where = {resolve_column(grid, header, ref): val for ref, val in profile.where.items()}
    if "value" not in roles and "value" not in profile.set:
        # no value column named: a wide table (one column per period) with the profile's constants
        auto = detect(grid, lambda _t: False)
        if auto.kind == "wide" and (header is None or auto.header == header):
            roles = {k: v for k, v in roles.items() if k != "period"}
            return Layout("wide", auto.header, roles, period_cols=auto.period_cols,
                          constants=dict(profile.set), where=where)
    return Layout("long", header if header is not None else -1, roles, constants=dict(profile.set),
                  where=where)


# ---------------------------------------------------------------------------------- records

RECORD_SCHEMA = pa.schema([
    ("sheet", pa.string()), ("row", pa.int64()),
    ("kommune", pa.string()), ("massnahme", pa.string()), ("kpi", pa.string()),
    ("period", pa.string()), ("value_text", pa.string()), ("value", pa.float64()),
    ("value_missing", pa.bool_()), ("value_bad", pa.bool_()),
    ("unit", pa.string()), ("note", pa.string()),
    ("c_kommune", pa.string()), ("c_massnahme", pa.string()), ("c_kpi", pa.string()),
    ("c_period", pa.string()), ("c_value", pa.string()),
])


def _col(grid: Grid, c: int | None, start: int, n: int) -> pa.Array:
    if c is None or c < 0 or c >= grid.n_cols:
        return pa.nulls(n, pa.string())
    arr = grid.columns[c].slice(start, n)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.utf8_trim_whitespace(pc.cast(arr, pa.string()))


def _const(value: str | None, n: int) -> pa.Array:
    return pa.repeat(A.string(value), n) if value is not None else pa.nulls(n, pa.string())


def _values(grid: Grid, c: int, start: int, n: int):
    text = _col(grid, c, start, n)
    fast = fast_numbers(text, grid.decimal_of(c), None)
    if fast is not None:  # a clean number column: no cell-type probe needed, no text kept
        return (pa.nulls(n, pa.string()), *fast)
    mask = None
    if grid.has_probe and pc.any(ambiguous_mask(text)).as_py():
        # only then read the column's cell types: '1.234' as Excel number vs German text
        m = grid.numeric_mask(c)
        mask = m.slice(start, n) if m is not None else None
    values, missing, bad = number_status(text, decimal=grid.decimal_of(c), numeric_mask=mask)
    # the text is only needed for messages about cells that are no numbers
    text = pc.if_else(bad, text, A.NULL_STRING)
    return text, values, missing, bad


def records(grid: Grid, lay: Layout) -> pa.Table:
    """Long records (one per value cell) of a recognised sheet, with Excel rows and column letters."""
    start = (lay.header + 1) if lay.header is not None else 0
    n = max(grid.n_rows - start, 0)
    rows = A.from_numpy(np.arange(grid.row0 + start, grid.row0 + start + n, dtype=np.int64))
    letter = {role: (col_letter(grid.col0 + c) if c is not None and c >= 0 else None)
              for role, c in lay.roles.items()}

    def field_arr(role: str) -> pa.Array:
        if role in lay.constants:
            return _const(lay.constants[role], n)
        return _col(grid, lay.roles.get(role), start, n)

    keep = None
    if lay.where:
        for c, val in lay.where.items():
            m = pc.fill_null(pc.equal(_col(grid, c, start, n), A.string(val.strip())), A.FALSE)
            keep = m if keep is None else pc.and_(keep, m)

    common = {
        "kommune": field_arr("kommune"), "massnahme": field_arr("massnahme"), "unit": field_arr("unit"),
        "note": field_arr("note"),
    }
    parts = []
    if lay.kind == "long":
        kpi = field_arr("kpi")
        period = field_arr("period")
        if "value" in lay.constants:
            vtext = _const(lay.constants["value"], n)
            values, missing, bad = number_status(vtext)
        else:
            vtext, values, missing, bad = _values(grid, lay.roles.get("value", -1), start, n)
        parts.append(_part(grid, rows, common, kpi, period, vtext, values, missing, bad, letter,
                           letter.get("kpi"), letter.get("period"), letter.get("value"), keep))
    elif lay.kind == "wide":
        kpi = field_arr("kpi")
        header_row = grid.excel_row(lay.header)
        for c, ptext in lay.period_cols.items():
            vtext, values, missing, bad = _values(grid, c, start, n)
            cl = col_letter(grid.col0 + c)
            parts.append(_part(grid, rows, common, kpi, _const(ptext, n), vtext, values, missing, bad,
                               letter, letter.get("kpi"), f"{cl}{header_row}", cl, keep))
    elif lay.kind == "kpi_columns":
        period = field_arr("period")
        header_row = grid.excel_row(lay.header)
        for c, ktext in lay.kpi_cols.items():
            vtext, values, missing, bad = _values(grid, c, start, n)
            cl = col_letter(grid.col0 + c)
            parts.append(_part(grid, rows, common, _const(ktext, n), period, vtext, values, missing, bad,
                               letter, f"{cl}{header_row}", letter.get("period"), cl, keep))
    if not parts:
        return RECORD_SCHEMA.empty_table()
    return pa.concat_tables(parts)


def _part(grid, rows, common, kpi, period, vtext, values, missing, bad, letter, c_kpi, c_period, c_value,
          keep) -> pa.Table:
    n = len(rows)
    t = pa.table({
        "sheet": _const(grid.name, n), "row": rows,
        "kommune": common["kommune"], "massnahme": common["massnahme"], "kpi": kpi, "period": period,
        "value_text": vtext, "value": values, "value_missing": missing, "value_bad": bad,
        "unit": common["unit"], "note": common["note"],
        "c_kommune": _const(letter.get("kommune"), n), "c_massnahme": _const(letter.get("massnahme"), n),
        "c_kpi": _const(c_kpi, n), "c_period": _const(c_period, n), "c_value": _const(c_value, n),
    }, schema=RECORD_SCHEMA)
    if keep is not None:
        t = pc.filter(t, keep)
    return t
