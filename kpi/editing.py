"""Single-value editor behind the upload page: a series edited in the browser becomes an upload.

The page shows one series (Kommune, Maßnahme or Kommune-wide, KPI) as a table with the
German columns `EDITOR_COLUMNS`. `plan_edit` compares the edited table with the original,
validates it against the KPI's range and returns the normalised frame of the changed rows;
`save_edit` loads it with `store.apply(kind="editor")`, so a correction appears in the upload
history and can be rolled back like a file. Also the German display tables of that page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from kpi import fmt, store
from kpi.db import Database
from kpi.ingest.parse import parse_number, parse_period

EDITOR_COLUMNS = ("Zeitraum", "Wert", "Bemerkung")
KIND_DE = {"file": "Datei", "editor": "Eingabe im Browser", "demo": "Demodaten", "parameter": "Parameter"}
STATUS_DE = {"active": "aktiv", "rolled_back": "zurückgenommen"}


@dataclass(frozen=True)
class Series:
    """One series of values: a KPI of a Maßnahme (or Kommune-wide when massnahme is None)."""

    kommune: str
    massnahme: str | None
    kpi: str

    def label_de(self) -> str:
        return f"{self.kommune} / {self.massnahme or 'kommunenweit'} / {self.kpi}"


@dataclass(frozen=True)
class KpiInfo:
    key: str
    label: str
    unit: str
    min_value: float | None
    max_value: float | None

    def range_de(self) -> str:
        """Return the allowed range in German ('0 bis 100 Punkte', 'ab 0 €'); '' when unbounded."""
        lo = None if self.min_value is None else fmt.number_de(self.min_value, _decimals(self.min_value))
        hi = None if self.max_value is None else fmt.number_de(self.max_value, _decimals(self.max_value))
        if lo is not None and hi is not None:
            return f"{lo} bis {hi} {self.unit}"
        if lo is not None:
            return f"ab {lo} {self.unit}"
        if hi is not None:
            return f"bis {hi} {self.unit}"
        return ""


def _decimals(x: float) -> int:
    return 0 if float(x).is_integer() else 2


def kpi_info(db: Database, key: str) -> KpiInfo | None:
    """Return label, unit and range of KPI `key` from the catalog table; None if unknown."""
    rows = db.query("SELECT key, label, unit, min_value, max_value FROM kpi WHERE key = $k", {"k": key})
    return KpiInfo(*rows[0]) if rows else None


def editor_choices(db: Database) -> dict:
    """Return what the editor offers: Kommunen, (Kommune, Maßnahme) pairs and all catalog KPIs."""
    return {
        "kommunen": [r[0] for r in db.query("SELECT name FROM kommune ORDER BY name")],
        "massnahmen": db.query(
            "SELECT k.name, m.name FROM massnahme m JOIN kommune k USING (kommune_id) ORDER BY 1, 2"),
        "kpis": db.query("SELECT key, label, unit FROM kpi ORDER BY sort_order, key"),
    }


def value_counts(db: Database, kommune: str, massnahme: str | None) -> dict[str, int]:
    """Return how many current values each KPI has for one Maßnahme (or Kommune-wide)."""
    rows = db.query(
        """
        SELECT me.kpi, count(*) FROM measurement me
        JOIN kommune k USING (kommune_id)
        LEFT JOIN massnahme m ON m.massnahme_id = me.massnahme_id
        WHERE k.name = $k AND m.name IS NOT DISTINCT FROM $m
        GROUP BY me.kpi
        """,
        {"k": kommune, "m": massnahme},
    )
    return {k: int(n) for k, n in rows}


def load_series(db: Database, series: Series) -> pd.DataFrame:
    """Return the current values of `series` as the editor table (Zeitraum, Wert, Bemerkung), oldest first."""
    rows = db.query(
        """
        SELECT me.period_start, me.granularity, me.value, me.note
        FROM measurement me
        JOIN kommune k USING (kommune_id)
        LEFT JOIN massnahme m ON m.massnahme_id = me.massnahme_id
        WHERE k.name = $k AND m.name IS NOT DISTINCT FROM $m AND me.kpi = $kpi
        ORDER BY me.period_start, me.granularity
        """,
        {"k": series.kommune, "m": series.massnahme, "kpi": series.kpi},
    )
    return pd.DataFrame(
        {
            "Zeitraum": pd.Series([fmt.period_de(p, g) for p, g, _, _ in rows], dtype="object"),
            "Wert": pd.Series([v for _, _, v, _ in rows], dtype="float64"),
            "Bemerkung": pd.Series([n or "" for _, _, _, n in rows], dtype="object"),
        }
    )


@dataclass
class EditPlan:
    """What saving an edited table would do: the changed rows as a normalised frame, or errors."""

    frame: pd.DataFrame
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_new: int = 0
    n_changed: int = 0
    n_deleted: int = 0

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def can_save(self) -> bool:
        """True when there is something to save and nothing is wrong."""
        return not self.errors and self.n_rows > 0

    def summary_de(self) -> str:
        """Return e.g. '1 neuer Wert, 2 geänderte Werte, 0 gelöschte Werte.'"""
        def n(k: int, one: str, many: str) -> str:
            return f"{k} {one if k == 1 else many}"

        return (
            n(self.n_new, "neuer Wert", "neue Werte") + ", "
            + n(self.n_changed, "geänderter Wert", "geänderte Werte") + ", "
            + n(self.n_deleted, "gelöschter Wert", "gelöschte Werte") + "."
        )


def _blank(x) -> bool:
    if x is None:
        return True
    if isinstance(x, float) and math.isnan(x):
        return True
    try:
        if pd.isna(x):
            return True
    except (TypeError, ValueError):
        pass
    return isinstance(x, str) and not x.strip()


def _note(x) -> str | None:
    return None if _blank(x) else str(x).strip()


def _number_de(x: float) -> str:
    return fmt.number_de(x, 0 if float(x).is_integer() else 2)


def _rows(table: pd.DataFrame | None) -> list[dict]:
    if table is None or len(table) == 0:
        return []
    table = table.reindex(columns=list(EDITOR_COLUMNS))
    return table.to_dict("records")


def plan_edit(
    series: Series,
    original: pd.DataFrame,
    edited: pd.DataFrame,
    info: KpiInfo,
    today: date | None = None,
) -> EditPlan:
    """Compare the edited table with the original; return the changed rows or German errors.

    Rows are numbered as the editor shows them (1 = first row). A row whose Zeitraum and Wert
    are both empty is ignored (the editor's empty new row); an emptied Wert or a removed row
    deletes that value; unchanged rows are left out of the frame.
    """
    today = today or date.today()
    errors: list[str] = []
    warnings: list[str] = []

    before: dict[tuple[date, str], tuple[float, str | None]] = {}
    for row in _rows(original):
        parsed = parse_period(row["Zeitraum"])
        if parsed is not None and not _blank(row["Wert"]):
            before[parsed] = (float(row["Wert"]), _note(row["Bemerkung"]))

    after: dict[tuple[date, str], tuple[float | None, str | None]] = {}
    first_row: dict[tuple[date, str], int] = {}
    for i, row in enumerate(_rows(edited), start=1):
        text, raw_value, note = row["Zeitraum"], row["Wert"], _note(row["Bemerkung"])
        if _blank(text) and _blank(raw_value):
            continue
        where = f"Zeile {i}"
        if _blank(text):
            errors.append(f"{where}: Der Zeitraum fehlt (z. B. „März 2024“, „1. Quartal 2024“ oder „2024“).")
            continue
        parsed = parse_period(text)
        if parsed is None:
            errors.append(
                f"{where}: „{str(text).strip()}“ ist kein Zeitraum "
                "(z. B. „März 2024“, „2024-03“, „1. Quartal 2024“ oder „2024“)."
            )
            continue
        label = fmt.period_de(*parsed)
        where = f"Zeile {i} ({label})"
        if parsed in first_row:
            errors.append(f"{where}: Der Zeitraum steht schon in Zeile {first_row[parsed]}.")
            continue
        first_row[parsed] = i
        try:
            value = parse_number(raw_value) if not _blank(raw_value) else None
        except ValueError:
            errors.append(f"{where}: „{str(raw_value).strip()}“ ist keine Zahl.")
            continue
        if value is None and parsed not in before:
            errors.append(f"{where}: Der Wert fehlt.")
            continue
        if value is not None:
            too_low = info.min_value is not None and value < info.min_value
            too_high = info.max_value is not None and value > info.max_value
            if too_low or too_high:
                errors.append(
                    f"{where}: {_number_de(value)} liegt außerhalb des zulässigen Bereichs "
                    f"({info.range_de()}) für „{info.label}“."
                )
                continue
        if parsed[0] > today:
            warnings.append(f"{where}: Der Zeitraum liegt in der Zukunft.")
        after[parsed] = (value, note)

    out: list[dict] = []
    n_new = n_changed = n_deleted = 0
    for key, (value, note) in after.items():
        old = before.get(key)
        if old is None:
            n_new += 1
        elif value is None:
            n_deleted += 1
            warnings.append(f"Der Wert für {fmt.period_de(*key)} ({_number_de(old[0])}) wird gelöscht.")
        elif old == (value, note):
            continue
        else:
            n_changed += 1
        out.append(_frame_row(series, key, value, note))
    for key, (old_value, _) in before.items():
        if key not in after and key not in first_row:  # the row was removed from the table
            n_deleted += 1
            warnings.append(f"Der Wert für {fmt.period_de(*key)} ({_number_de(old_value)}) wird gelöscht.")
            out.append(_frame_row(series, key, None, None))

    frame = pd.DataFrame(out, columns=list(store.FRAME_COLUMNS))
    if errors:
        frame = frame.iloc[0:0]
    return EditPlan(frame=frame, errors=errors, warnings=warnings,
                    n_new=n_new, n_changed=n_changed, n_deleted=n_deleted)


def plan_unchanged(db: Database, series: Series, today: date) -> EditPlan:
    """plan_edit of the stored table against itself: what the editor shows before any edit (its
    warnings); pages cache it per data version instead of comparing 100s of rows on every rerun."""
    original = load_series(db, series)
    return plan_edit(series, original, original, kpi_info(db, series.kpi), today)


def _frame_row(series: Series, key: tuple[date, str], value: float | None, note: str | None) -> dict:
    return {
        "kommune": series.kommune, "massnahme": series.massnahme, "kpi": series.kpi,
        "period_start": key[0], "granularity": key[1], "value": value, "note": note,
    }


def save_edit(db: Database, series: Series, plan: EditPlan, user: str) -> store.LoadCounts:
    """Load the plan's rows as one upload of kind 'editor' (in the history, undoable)."""
    if plan.errors:
        raise ValueError("Die Eingaben enthalten Fehler; es wurde nichts gespeichert.")
    return store.apply(
        db, plan.frame, file_name=f"Eingabe im Browser: {series.label_de()}", user=user, kind="editor",
        n_warnings=len(plan.warnings),
    )


# ------------------------------------------------------------------ German display tables


def uploads_de(uploads: pd.DataFrame) -> pd.DataFrame:
    """Return `store.list_uploads` with German column names, dates and status words."""
    def when(ts) -> str:
        return "" if _blank(ts) else fmt.datetime_de(pd.Timestamp(ts).to_pydatetime())

    return pd.DataFrame(
        {
            "Nr.": uploads["upload_id"].astype("int64"),
            "Zeitpunkt": [when(t) for t in uploads["uploaded_at"]],
            "Datei / Quelle": uploads["file_name"].astype("object"),
            "Art": [KIND_DE.get(k, k) for k in uploads["kind"]],
            "Von": uploads["uploaded_by"].astype("object"),
            "Zeilen": uploads["n_rows"].astype("int64"),
            "neu": uploads["n_inserted"].astype("int64"),
            "geändert": uploads["n_updated"].astype("int64"),
            "unverändert": uploads["n_unchanged"].astype("int64"),
            "Warnungen": uploads["n_warnings"].astype("int64"),
            "Status": [STATUS_DE.get(s, s) for s in uploads["status"]],
            "zurückgenommen": [
                "" if _blank(t) else f"{when(t)} von {by}"
                for t, by in zip(uploads["rolled_back_at"], uploads["rolled_back_by"], strict=True)
            ],
        }
    )


def upload_history_de(db: Database) -> pd.DataFrame:
    """uploads_de of the whole upload history (cached per data version by the page)."""
    return uploads_de(store.list_uploads(db))


def value_history_table_de(db: Database, kommune: str, massnahme: str | None, kpi: str,
                           period_start: date) -> pd.DataFrame:
    """value_history_de of one value's versions (cached per data version by the page)."""
    return value_history_de(store.value_history(db, kommune, massnahme, kpi, period_start))


def value_history_de(history: pd.DataFrame) -> pd.DataFrame:
    """Return `store.value_history` with German columns; a deleted version shows as 'gelöscht'."""
    return pd.DataFrame(
        {
            "Upload": history["upload_id"].astype("int64"),
            "Zeitpunkt": [fmt.datetime_de(pd.Timestamp(t).to_pydatetime()) for t in history["uploaded_at"]],
            "Datei / Quelle": history["file_name"].astype("object"),
            "Von": history["uploaded_by"].astype("object"),
            "Wert": ["gelöscht" if _blank(v) else _number_de(v) for v in history["value"]],
            "Bemerkung": ["" if _blank(n) else n for n in history["note"]],
            "Status": [STATUS_DE.get(s, s) for s in history["status"]],
        }
    )
