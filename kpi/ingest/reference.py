"""The template's reference sheets (Kommunen, Maßnahmen, Ziele, Ausgangswerte, Plan, Parameter,
Kriterien, Bewertung, Kennzahlen) → store.Payload frames, with German findings per cell.

These sheets are small (master data), so they are read row by row.
"""

from __future__ import annotations

import re

import pyarrow as pa

from kpi import catalog as cat
from kpi.ingest.parse import ambiguous_mask, col_letter, fold, parse_date, parse_number
from kpi.ingest.validate import EXAMPLE_KOMMUNE, KpiCatalog, KpiInfo
from kpi.store import Payload

# sheet (folded name) -> (payload field, [(column key, header text, kind, required)])
# kinds: text, num, int, date, year, kpi, ags, laufbahn, family, polarity, aggregation
SHEETS: dict[str, tuple[str, list[tuple[str, str, str, bool]]]] = {
    "kommunen": ("kommunen", [
        ("name", "Kommune", "text", True), ("ags", "AGS", "ags", False), ("einwohner", "Einwohner", "int", False)]),
    "massnahmen": ("massnahmen", [
        ("kommune", "Kommune", "text", True), ("name", "Maßnahme", "text", True),
        ("handlungsfeld", "Handlungsfeld", "text", False), ("start_date", "Start", "date", False),
        ("golive_date", "Inbetriebnahme", "date", False), ("laufbahn", "Laufbahn", "laufbahn", False),
        ("planned_npv_eur", "Geplanter Kapitalwert (€)", "num", False)]),
    "ziele": ("targets", [
        ("kommune", "Kommune", "text", True), ("massnahme", "Maßnahme", "text", False),
        ("kpi", "Kennzahl", "kpi", True), ("target_value", "Zielwert", "num", True),
        ("target_date", "Zieldatum", "date", True), ("start_value", "Startwert", "num", False)]),
    "ausgangswerte": ("baselines", [
        ("kommune", "Kommune", "text", True), ("massnahme", "Maßnahme", "text", True),
        ("kpi", "Kennzahl", "kpi", True), ("value", "Ausgangswert", "num", True),
        ("source", "Quelle", "text", False)]),
    "plan": ("plans", [
        ("kommune", "Kommune", "text", True), ("massnahme", "Maßnahme", "text", True),
        ("year", "Jahr", "year", True), ("costs_eur", "Geplante Kosten (€)", "num", False),
        ("benefits_eur", "Geplanter Nutzen (€)", "num", False)]),
    "parameter": ("parameters", [
        ("key", "Schlüssel", "text", True), ("value", "Wert", "num", True),
        ("valid_from", "Gültig ab", "date", True), ("source", "Quelle", "text", False)]),
    "kriterien": ("criteria", [
        ("name", "Kriterium", "text", True), ("weight_pct", "Gewicht (%)", "num", True)]),
    "bewertung": ("scores", [
        ("kommune", "Kommune", "text", True), ("massnahme", "Maßnahme", "text", True),
        ("criterion", "Kriterium", "text", True), ("score", "Punkte (0–10)", "num", True)]),
    "kennzahlen": ("kpis", [
        ("key", "Schlüssel", "kpikey", True), ("label", "Bezeichnung", "text", True),
        ("unit", "Einheit", "text", True), ("family", "Familie", "family", True),
        ("polarity", "Polarität", "polarity", True), ("aggregation", "Aggregation", "aggregation", False),
        ("min_value", "Minimum", "num", False), ("max_value", "Maximum", "num", False)]),
}
IGNORED = {"anleitung", "hinweise", "liesmich", "readme", "listen"}
# Alternative header words accepted per column key
ALIASES = {"name": ("kommune", "massnahme", "kriterium", "name"), "value": ("wert", "ausgangswert"),
           "key": ("schluessel", "key", "parameter"), "weight_pct": ("gewicht", "gewichtung")}

POLARITY = {"higher": "higher", "hoeher": "higher", "hoeheristbesser": "higher", "mehr": "higher",
            "lower": "lower", "niedriger": "lower", "niedrigeristbesser": "lower", "weniger": "lower",
            "none": "none", "neutral": "none", "keine": "none", "": "none"}
AGGREGATION = {"sum": "sum", "summe": "sum", "mean": "mean", "mittelwert": "mean", "durchschnitt": "mean",
               "last": "last", "letzterwert": "last", "letzter": "last",
               "wmeanfallzahl": "wmean_fallzahl", "gewichtetnachfallzahl": "wmean_fallzahl"}
LAUFBAHN = {fold(v): k for k, v in cat.LAUFBAHNEN.items()} | {k: k for k in cat.LAUFBAHNEN}


def sheet_kind(name: str) -> str | None:
    f = fold(name)
    if f in SHEETS:
        return f
    if f in IGNORED:
        return "ignored"
    return None


def is_reference_sheet(name: str) -> bool:
    return sheet_kind(name) is not None


def has_rows(p: Payload) -> bool:
    return any(getattr(p, f) is not None and len(getattr(p, f)) > 0
               for f in ("kommunen", "massnahmen", "targets", "baselines", "plans", "parameters",
                         "criteria", "scores", "kpis"))


def _header_match(text: str | None, key: str, header: str) -> bool:
    if not text:
        return False
    f = fold(re.sub(r"\(.*?\)", "", text))
    want = fold(re.sub(r"\(.*?\)", "", header))
    return f == want or f in ALIASES.get(key, ())


def _family(text: str) -> str | None:
    f = fold(text)
    for key, label in cat.FAMILIES.items():
        if f == key or f == fold(label) or fold(label).startswith(f) and len(f) >= 4:
            return key
    return None


def read_reference_sheets(book, names: list[str], sink, kpis: KpiCatalog, layouts: list[str]) -> Payload:
    """Read every reference sheet among `names` into a Payload; adds file-defined KPIs to `kpis`."""
    payload = Payload()
    # Kennzahlen first: data sheets may use the KPIs defined there
    order = sorted(names, key=lambda n: 0 if sheet_kind(n) == "kennzahlen" else 1)
    for name in order:
        kind = sheet_kind(name)
        if kind is None or kind == "ignored":
            continue
        grid = book.grid(name)
        field_name, spec = SHEETS[kind]
        rows = _read_sheet(grid, spec, sink, kpis, kind)
        if rows is None:
            layouts.append(f"Blatt „{name}“: Kopfzeile nicht gefunden (erwartet: "
                           + ", ".join(h for _k, h, _t, req in spec if req) + ")")
            continue
        layouts.append(f"Blatt „{name}“: {len(rows)} Zeilen Stammdaten")
        if kind == "kennzahlen":
            rows = [r for r in rows if r["key"] not in cat.KPI_BY_KEY]
            for r in rows:
                r.setdefault("aggregation", None)
                r["aggregation"] = r["aggregation"] or "sum"
                kpis.add(KpiInfo(r["key"], r["label"], r["unit"], r.get("min_value"), r.get("max_value")))
        if kind == "kriterien" and rows:
            total = sum(r["weight_pct"] for r in rows)
            if abs(total - 100) > 0.01:
                total_de = f"{total:g}".replace(".", ",")
                sink.add("error", f"Die Gewichte der Kriterien ergeben {total_de} %, sie müssen zusammen "
                                  "100 % ergeben.", name)
                continue
        if rows:
            import pandas as pd  # only here: keeps `kpi ingest` start-up fast

            cols = [k for k, _h, _t, _r in spec]
            setattr(payload, field_name, pd.DataFrame(rows, columns=cols))
    return payload


def _read_sheet(grid, spec, sink, kpis: KpiCatalog, kind: str) -> list[dict] | None:
    header, cols = None, {}
    for r in range(min(15, grid.n_rows)):
        vals = grid.row_values(r)
        found = {}
        for key, head, _t, _req in spec:
            for c, v in enumerate(vals):
                if _header_match(v, key, head) and c not in found.values():
                    found[key] = c
                    break
        if all(k in found for k, _h, _t, req in spec if req):
            header, cols = r, found
            break
    if header is None:
        return None
    out = []
    for r in range(header + 1, grid.n_rows):
        vals = {k: grid.cell(r, c) for k, c in cols.items()}
        if all(v is None for v in vals.values()):
            continue
        first = vals.get("kommune") or (vals.get("name") if kind == "kommunen" else None)
        if first == EXAMPLE_KOMMUNE:
            continue
        row = {}
        ok = True
        excel_row = grid.excel_row(r)
        for key, head, typ, req in spec:
            text = vals.get(key)
            c = cols.get(key)
            cell = f"{col_letter(grid.col0 + c)}{excel_row}" if c is not None else None

            def err(msg, cell=cell, excel_row=excel_row):
                sink.add("error", msg, grid.name, cell, excel_row,
                         "".join(ch for ch in cell if ch.isalpha()) if cell else None)

            if text is None:
                if req:
                    err(f"„{head}“ fehlt")
                    ok = False
                row[key] = None
                continue
            if typ in ("num", "int") and ambiguous_mask(pa.array([text])).to_pylist()[0]:
                # '1.234' was an Excel number (1,234) or German text (1234): the cell type tells
                mask = grid.numeric_mask(c)
                if mask is not None and mask[r].as_py():
                    text = text.replace(".", ",")
            try:
                row[key] = _convert(text, typ, kpis)
            except ValueError as exc:
                err(str(exc) if exc.args and isinstance(exc.args[0], str) and exc.args[0].startswith("„")
                    else f"„{text}“ passt nicht in „{head}“")
                ok = False
        if ok:
            out.append(row)
    return out


def _number(text: str, decimal: str = "excel"):
    try:
        return parse_number(text, decimal=decimal)
    except ValueError:
        return None


def _convert(text: str, typ: str, kpis: KpiCatalog):
    if typ == "text":
        return text
    if typ == "kpikey":
        if not re.fullmatch(r"[a-z][a-z0-9_]*", text):
            raise ValueError(f"„{text}“ ist kein gültiger Schlüssel (nur Kleinbuchstaben a–z, Ziffern und _, "
                             "z. B. termine_online)")
        return text
    if typ == "num":
        v = _number(text)
        if v is None:
            raise ValueError(f"„{text}“ ist keine Zahl")
        return v
    if typ == "int":
        v = _number(text)
        if v is None or v <= 0 or not float(v).is_integer():
            raise ValueError(f"„{text}“ ist keine ganze Zahl größer 0")
        return int(v)
    if typ == "year":
        v = _number(text, decimal="en")
        if v is None or not float(v).is_integer() or not 1990 <= v <= 2100:
            raise ValueError(f"„{text}“ ist kein Jahr (z. B. 2025)")
        return int(v)
    if typ == "date":
        d = parse_date(text)
        if d is None:
            raise ValueError(f"„{text}“ ist kein Datum (z. B. 01.03.2024)")
        return d
    if typ == "ags":
        digits = text.replace(" ", "")
        if digits.endswith(".0"):
            digits = digits[:-2]
        if digits.isdigit() and len(digits) == 7:  # Excel dropped the leading zero
            digits = "0" + digits
        if not (digits.isdigit() and len(digits) == 8):
            raise ValueError(f"„{text}“ ist kein Amtlicher Gemeindeschlüssel (8 Ziffern)")
        return digits
    if typ == "kpi":
        k = kpis.resolve(text)
        if k is None:
            raise ValueError(f"„{text}“: Kennzahl unbekannt")
        return k
    if typ == "laufbahn":
        k = LAUFBAHN.get(fold(text))
        if k is None:
            raise ValueError(f"„{text}“ ist keine Laufbahn (einfacher, mittlerer, gehobener, höherer Dienst)")
        return k
    if typ == "family":
        k = _family(text)
        if k is None:
            raise ValueError(f"„{text}“ ist keine Familie ({', '.join(cat.FAMILIES)})")
        return k
    if typ == "polarity":
        k = POLARITY.get(fold(text))
        if k is None:
            raise ValueError(f"„{text}“: Polarität ist „höher ist besser“, „niedriger ist besser“ oder „neutral“")
        return k
    if typ == "aggregation":
        k = AGGREGATION.get(fold(text))
        if k is None:
            raise ValueError(f"„{text}“: Aggregation ist Summe, Mittelwert oder letzter Wert")
        return k
    raise AssertionError(typ)
