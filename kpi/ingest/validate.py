"""Set-wise validation of long records: errors, warnings, and the normalised measurement frame.

Errors (row not loaded): not a number, unknown period, unknown KPI, missing Kommune/KPI/period.
Warnings (row loaded): value outside the KPI's range, period in the future, duplicate key in
the file (the last row wins), online cases above total cases, unit differing from the KPI's,
totals rows (skipped). Each finding names sheet and Excel cell. Messages per kind are capped
so a file with 100.000 bad rows gives a readable report (the count stays exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from kpi import catalog as cat
from kpi.fmt import number_de, period_de
from kpi.ingest import arrays as A
from kpi.ingest import compute as pc
from kpi.ingest.parse import fold, fold_array, parse_periods
from kpi.store import FRAME_SCHEMA

MAX_PER_KIND = 50
EXAMPLE_KOMMUNE = "Beispielstadt"  # template example rows: recognised and skipped
TOTAL_RE = r"^(summe|gesamt|insgesamt|total|gesamtsumme|zwischensumme)"
_UNIT_SAME = {"€": {"€", "eur", "euro"}, "%": {"%", "prozent"}, "anzahl": {"anzahl", "stueck", "stk", "fälle", "faelle"}}


MAX_NAME_CHARS = 200  # names of Kommunen and Maßnahmen; longer is a text pasted into the wrong cell


@dataclass
class KpiInfo:
    key: str
    label: str
    unit: str
    min_value: float | None
    max_value: float | None


class KpiCatalog:
    """KPI lookup by key or German label, case-, space- and punctuation-insensitive."""

    def __init__(self, kpis: list[KpiInfo]):
        self.by_key = {k.key: k for k in kpis}
        self._lookup: dict[str, str] = {}
        for k in kpis:
            self._lookup.setdefault(fold(k.label), k.key)
        for k in kpis:  # keys win over labels
            self._lookup[fold(k.key)] = k.key

    @classmethod
    def builtin(cls) -> KpiCatalog:
        return cls([KpiInfo(k.key, k.label, k.unit, k.min_value, k.max_value) for k in cat.KPIS])

    @classmethod
    def from_db(cls, db) -> KpiCatalog:
        rows = db.query("SELECT key, label, unit, min_value, max_value FROM kpi ORDER BY sort_order, key")
        return cls([KpiInfo(*r) for r in rows])

    def add(self, info: KpiInfo) -> None:
        if info.key not in self.by_key:
            self.by_key[info.key] = info
            self._lookup.setdefault(fold(info.label), info.key)
            self._lookup[fold(info.key)] = info.key

    def resolve(self, text: str | None) -> str | None:
        return self._lookup.get(fold(text)) if text else None

    def is_kpi(self, text: str | None) -> bool:
        return self.resolve(text) is not None


def _cell(c: str | None, row: int | None) -> str | None:
    if not c:
        return None
    if any(ch.isdigit() for ch in c):
        return c
    return f"{c}{row}" if row is not None else c


class IssueSink:
    """Collects issues, capped per (kind, sheet), counting the rest."""

    def __init__(self, issue_cls):
        self.issue_cls = issue_cls
        self.issues = []
        self._more: dict[tuple[str, str, str | None], int] = {}

    def add_rows(self, kind: str, level: str, table: pa.Table, message, col_field: str | None) -> None:
        """One issue per row of `table` (records); message(row_dict) -> German text."""
        if table.num_rows == 0:
            return
        for sheet in pc.unique(table.column("sheet")).to_pylist():
            part = pc.filter(table, pc.equal(table.column("sheet"), A.string(sheet)))
            head = part.slice(0, MAX_PER_KIND).to_pylist()
            for r in head:
                letter = r.get(col_field) if col_field else None
                cell = _cell(letter, r["row"])
                col = "".join(ch for ch in letter if ch.isalpha()) if letter else None
                row = r["row"] if not (letter and any(ch.isdigit() for ch in letter)) else r["row"]
                self.issues.append(self.issue_cls(level, message(r), sheet, cell, row, col))
            rest = part.num_rows - len(head)
            if rest > 0:
                self.issues.append(self.issue_cls(
                    level, f"… und {number_de(rest)} weitere Zeilen mit demselben Problem ({kind}).", sheet))

    def add(self, level: str, message: str, sheet: str | None = None, cell: str | None = None,
            row: int | None = None, column: str | None = None) -> None:
        self.issues.append(self.issue_cls(level, message, sheet, cell, row, column))


def _keep(table: pa.Table, mask) -> pa.Table:
    """Rows where mask is true; the table itself (no copy) when all are kept (large clean files)."""
    mask = _mask(mask)
    return table if pc.all(mask).as_py() else pc.filter(table, mask)


def _mask(x) -> pa.Array:
    return pc.fill_null(x, A.FALSE)


_LABELS = ("sheet", "kommune", "massnahme", "kpi", "period")


def _encode(rec: pa.Table) -> tuple[pa.Table, dict[str, pa.Array]]:
    """Distinct values of each label column, and each row's position among them as column `_<name>`.

    Label columns repeat few values: checks run on the distinct values and map back by position
    (nulls have a position too); the positions travel with the rows through every filter.
    """
    distinct = {}
    for name in _LABELS:
        col = rec.column(name).combine_chunks()
        enc = pc.dictionary_encode(col, null_encoding="encode")
        distinct[name] = enc.dictionary
        rec = rec.append_column(f"_{name}", enc.indices)
    return rec, distinct


def _per_row(rec: pa.Table, name: str, per_value: pa.Array) -> pa.Array:
    """`per_value` (one entry per distinct value of label `name`) for each row."""
    return pc.take(per_value, rec.column(f"_{name}"))


def validate(rec: pa.Table, kpis: KpiCatalog, sink: IssueSink, today: date | None = None):
    """Validate records; returns (measurement frame as Arrow FRAME_SCHEMA table, number of error rows,
    whether every key occurs once in the frame)."""
    today = today or date.today()
    if rec.num_rows == 0:
        return FRAME_SCHEMA.empty_table(), 0, True
    # rows that carry nothing at all (spacer rows, footers without a value)
    has_any = pc.or_(pc.invert(rec.column("value_missing")),
                     pc.or_(pc.is_valid(rec.column("kpi")), pc.is_valid(rec.column("period"))))
    rec = _keep(rec, pc.and_(has_any, pc.invert(rec.column("value_missing"))))
    # template example rows
    rec = _keep(rec, pc.invert(_mask(pc.equal(rec.column("kommune"), A.string(EXAMPLE_KOMMUNE)))))
    if rec.num_rows == 0:
        return FRAME_SCHEMA.empty_table(), 0, True
    rec, distinct = _encode(rec)
    # totals rows (Summe / Gesamt) are skipped with a warning
    total = A.full(rec.num_rows, False)
    for name in ("kommune", "massnahme", "kpi", "period"):
        hit = _mask(pc.match_substring_regex(fold_array(distinct[name]), TOTAL_RE))
        if pc.any(hit).as_py():
            total = pc.or_(total, _per_row(rec, name, hit))
    # a wide totals row has one record per period: report the row once
    totals = A.distinct_rows(pc.filter(rec, total), ["sheet", "row"])
    totals = pc.take(totals, pc.sort_indices(totals, sort_keys=[("sheet", "ascending"), ("row", "ascending")]))
    sink.add_rows("Summenzeile", "warning", totals,
                  lambda r: "Summenzeile übersprungen (Summen berechnet das Programm selbst).", None)
    rec = _keep(rec, pc.invert(total))
    if rec.num_rows == 0:
        return FRAME_SCHEMA.empty_table(), 0, True

    # --- resolve fields
    kpi_text = rec.column("kpi")
    keys = A.strings([kpis.resolve(v) for v in distinct["kpi"].to_pylist()])
    kpi_key = _per_row(rec, "kpi", keys)
    period_starts, period_grans = parse_periods(distinct["period"])
    starts, grans = _per_row(rec, "period", period_starts), _per_row(rec, "period", period_grans)
    # ISO weeks written 2021-28: if a sheet has any, its 2021-05 is week 5, not May
    ptext = pc.utf8_trim_whitespace(distinct["period"])
    weekish = _mask(pc.match_substring_regex(ptext, r"^\d{4}-(1[3-9]|[2-5]\d)$"))
    if pc.any(weekish).as_py():
        weekish_rows = _per_row(rec, "period", weekish)
        week_sheets = pc.unique(rec.column("sheet").filter(weekish_rows))
        weeklike = pc.or_(_mask(pc.match_substring_regex(ptext, r"^\d{4}-[wW]?\d{1,2}$")), weekish)
        weeks = pc.and_(_per_row(rec, "period", weeklike), pc.is_in(rec.column("sheet"), value_set=week_sheets))
        starts = pc.if_else(weeks, A.NULL_DATE, starts)
    else:
        weeks = A.full(rec.num_rows, False)
    rec = rec.append_column("kpi_key", kpi_key).append_column("period_start", starts).append_column("gran", grans)

    # --- errors
    err_any = A.full(rec.num_rows, False)

    def error(kind, mask, message, col_field):
        nonlocal err_any
        mask = _mask(mask)
        sink.add_rows(kind, "error", pc.filter(rec, mask), message, col_field)
        err_any = pc.or_(err_any, mask)

    error("keine Zahl", rec.column("value_bad"),
          lambda r: f"„{r['value_text']}“ ist keine Zahl", "c_value")
    error("Zeitraum fehlt", pc.is_null(rec.column("period")),
          lambda r: "Zeitraum fehlt", "c_period")
    error("Kalenderwoche", weeks,
          lambda r: f"„{r['period']}“ ist eine Kalenderwoche (Jahr-Woche); Kennzahlen werden je Monat, "
                    "Quartal oder Jahr geladen – bitte zu Monaten zusammenfassen", "c_period")
    error("Zeitraum unbekannt", pc.and_(pc.and_(pc.is_valid(rec.column("period")), pc.is_null(starts)),
                                        pc.invert(weeks)),
          lambda r: f"„{r['period']}“ ist kein Zeitraum, den das Programm versteht "
                    "(Beispiele: 2024-03, 03/2024, März 2024, Q1 2024, 1. Quartal 2024, 2024)", "c_period")
    error("Kennzahl fehlt", pc.is_null(kpi_text), lambda r: "Kennzahl fehlt", "c_kpi")
    unknown = pc.and_(pc.is_valid(kpi_text), pc.is_null(kpi_key))
    error("Kennzahl unbekannt", unknown,
          lambda r: f"Kennzahl „{r['kpi']}“ ist unbekannt. Schreibweise prüfen oder die Kennzahl im "
                    "Blatt „Kennzahlen“ der Vorlage anlegen (Schlüssel, Bezeichnung, Einheit, Familie, "
                    "Polarität).", "c_kpi")
    kommunen = distinct["kommune"]
    error("Kommune fehlt", _per_row(rec, "kommune", pc.or_kleene(pc.is_null(kommunen),
                                                                 pc.equal(kommunen, A.string("")))),
          lambda r: "Kommune fehlt. Spalte „Kommune“ ergänzen oder die Kommune festlegen "
                    "(Importprofil bzw. kpi ingest --set kommune=NAME).", "c_kommune")

    for field, label, col in (("kommune", "Kommune", "c_kommune"), ("massnahme", "Maßnahme", "c_massnahme")):
        too_long = pc.greater(pc.utf8_length(distinct[field]), A.int64(MAX_NAME_CHARS))
        error(f"{label} zu lang", _per_row(rec, field, _mask(too_long)),
              lambda r, f=field, lab=label: f"Name der {lab} ist {number_de(len(r[f]))} Zeichen lang "
                                            f"(höchstens {MAX_NAME_CHARS}); steht hier ein Text statt eines Namens?",
              col)

    n_error_rows = _count_rows(pc.filter(rec, err_any))
    ok = _keep(rec, pc.invert(err_any))
    keys_unique = _warnings(ok, kpis, sink, today, _Keys(keys, period_starts, period_grans)) if ok.num_rows else True
    frame = pa.table({
        "kommune": ok.column("kommune"),
        "massnahme": ok.column("massnahme"),
        "kpi": ok.column("kpi_key"),
        "period_start": ok.column("period_start"),
        "granularity": ok.column("gran"),
        "value": ok.column("value"),
        "note": ok.column("note"),
    }, schema=FRAME_SCHEMA)
    return frame, n_error_rows, keys_unique


def _count_rows(t: pa.Table) -> int:
    if t.num_rows == 0:
        return 0
    return A.distinct_rows(t, ["sheet", "row"]).num_rows


@dataclass
class _Keys:
    """Per distinct KPI text its catalog key, per distinct period text its start and granularity."""

    kpi: pa.Array
    period_start: pa.Array
    granularity: pa.Array


def _codes(ok: pa.Table, keys: _Keys) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The KPI keys present, and per row: the position of its KPI key among them, a code of its period."""
    key_list = sorted({k for k in keys.kpi.to_pylist() if k is not None})
    position = {k: i for i, k in enumerate(key_list)}
    kpi_code = np.array([position.get(k, -1) for k in keys.kpi.to_pylist()], dtype=np.int64)
    periods: dict[tuple, int] = {}
    period_code = np.array([periods.setdefault(p, len(periods)) for p in zip(
        keys.period_start.to_pylist(), keys.granularity.to_pylist(), strict=True)], dtype=np.int64)
    return (key_list, kpi_code[A.to_numpy(ok.column("_kpi"))], period_code[A.to_numpy(ok.column("_period"))])


def _label_codes(t: pa.Table, name: str) -> tuple[np.ndarray, int]:
    """Per row the position of its label among the distinct values, and a bound of those positions."""
    codes = A.to_numpy(t.column(f"_{name}"))
    return codes, int(codes.max()) + 1 if len(codes) else 1


def _combine(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """One int64 per row identifying its combination of codes; parts are (codes, number of codes)."""
    code, span = parts[0][0].astype(np.int64), parts[0][1]
    for part, n in parts[1:]:
        if span * max(n, 1) > 2**62:  # renumber densely before the product could overflow
            distinct, code = np.unique(code, return_inverse=True)
            span = len(distinct)
        code, span = code * n + part, span * max(n, 1)
    return code


def _warnings(ok: pa.Table, kpis: KpiCatalog, sink: IssueSink, today: date, keys: _Keys) -> bool:
    """Add the warnings; returns whether every key occurs once."""
    key_list, kpi_code, period_code = _codes(ok, keys)
    # range from the catalog
    idx = A.from_numpy(kpi_code)
    vmin = pc.take(A.floats([kpis.by_key[k].min_value for k in key_list]), idx)
    vmax = pc.take(A.floats([kpis.by_key[k].max_value for k in key_list]), idx)
    v = ok.column("value")
    out = pc.or_(_mask(pc.less(v, vmin)), _mask(pc.greater(v, vmax)))

    def range_text(r):
        info = kpis.by_key[r["kpi_key"]]
        if info.min_value is not None and info.max_value is not None:
            rng = f"{number_de(info.min_value)} bis {number_de(info.max_value)}"
        elif info.min_value is not None:
            rng = f"mindestens {number_de(info.min_value)}"
        else:
            rng = f"höchstens {number_de(info.max_value)}"
        return (f"Wert {number_de(r['value'], 2 if r['value'] % 1 else 0)} liegt außerhalb des üblichen "
                f"Bereichs von „{info.label}“ ({rng}); bitte prüfen")

    sink.add_rows("außerhalb des Bereichs", "warning", pc.filter(ok, out), range_text, "c_value")
    # future periods
    fut = pc.greater(ok.column("period_start"), A.date32(today))
    sink.add_rows("Zukunft", "warning", pc.filter(ok, _mask(fut)),
                  lambda r: f"Zeitraum {period_de(r['period_start'], r['gran'])} liegt in der Zukunft", "c_period")
    # unit differing from the KPI's unit
    if pc.any(pc.is_valid(ok.column("unit"))).as_py():
        want = pc.take(A.strings([fold(kpis.by_key[k].unit) for k in key_list]), idx)
        have = fold_array(ok.column("unit"))
        differs = pc.and_(pc.is_valid(have), pc.not_equal(have, want))
        cand = pc.filter(ok, _mask(differs))
        if cand.num_rows:
            def same(a, b):
                return any(a in s and b in s for s in _UNIT_SAME.values())
            bad = [not same(fold(u), fold(kpis.by_key[k].unit))
                   for u, k in zip(cand.column("unit").to_pylist(), cand.column("kpi_key").to_pylist(), strict=True)]
            sink.add_rows("Einheit", "warning", pc.filter(cand, A.bools(bad)),
                          lambda r: f"Einheit „{r['unit']}“ passt nicht zu „{kpis.by_key[r['kpi_key']].label}“ "
                                    f"(erwartet: {kpis.by_key[r['kpi_key']].unit}); der Wert wird unverändert übernommen",
                          None)
    # the key without the KPI: Kommune, Maßnahme, period
    place = _combine([_label_codes(ok, "kommune"), _label_codes(ok, "massnahme"),
                      (period_code, int(period_code.max()) + 1)])
    keys_unique = _duplicates(ok, sink, _combine([(place, int(place.max()) + 1), (kpi_code, len(key_list))]))
    _online_above_total(ok, sink, place, kpi_code, key_list)
    return keys_unique


def _duplicates(ok: pa.Table, sink: IssueSink, key: np.ndarray) -> bool:
    """Warn for every row whose key already appeared earlier in the file (the last row wins).

    `key` identifies each row's key (Kommune, Maßnahme, Kennzahl, Zeitraum). Returns True when
    every key occurs once (no warning).
    """
    ordered = np.sort(key)
    if not (ordered[1:] == ordered[:-1]).any():  # the usual case: every key once
        return True
    # per key in sheet and row order (sheet names sorted): the first row, and every later one
    names = sorted(pc.unique(ok.column("sheet")).to_pylist())
    sheet = A.to_numpy(pc.index_in(ok.column("sheet"), value_set=A.strings(names)))
    row = A.to_numpy(ok.column("row"))
    order = np.lexsort((row, sheet, key))
    grouped = key[order]
    first = np.r_[True, grouped[1:] != grouped[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    later, its_first = order[~first], order[group_start[~first]]
    by_place = np.lexsort((row[later], sheet[later]))
    later, its_first = A.from_numpy(later[by_place]), A.from_numpy(its_first[by_place])
    dup = (ok.take(later).append_column("first_row", pc.take(ok.column("row"), its_first))
           .append_column("first_sheet", pc.take(ok.column("sheet"), its_first)))
    sink.add_rows("doppelt", "warning", dup,
                  lambda r: ("Doppelte Zeile: derselbe Wert (Kommune, Maßnahme, Kennzahl, Zeitraum) steht "
                             f"schon in Blatt „{r['first_sheet']}“, Zeile {r['first_row']}; die letzte Zeile gilt"),
                  None)
    return False


def _online_above_total(ok: pa.Table, sink: IssueSink, place: np.ndarray, kpi_code: np.ndarray,
                        key_list: list[str]) -> None:
    """Warn where online cases exceed all cases for the same Kommune, Maßnahme and period (`place`)."""
    if "online_faelle" not in key_list or "fallzahl" not in key_list:
        return
    is_online = kpi_code == key_list.index("online_faelle")
    is_total = kpi_code == key_list.index("fallzahl")
    if not is_online.any() or not is_total.any():
        return
    online, total = pc.filter(ok, A.from_numpy(is_online)), pc.filter(ok, A.from_numpy(is_total))
    pos = pc.index_in(A.from_numpy(place[is_online]), value_set=A.from_numpy(place[is_total]))
    fall = pc.take(total.column("value"), pos)
    over = pc.filter(online.append_column("fall_value", fall), _mask(pc.greater(online.column("value"), fall)))
    sink.add_rows("online über Fallzahl", "warning", over,
                  lambda r: (f"Online-Fälle ({number_de(r['value'])}) sind mehr als alle Fälle "
                             f"({number_de(r['fall_value'])}) im selben Zeitraum; bitte prüfen"), "c_value")
