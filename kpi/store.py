"""Versioned storage of measurements: preview, apply (one transaction), rollback.

Incoming values arrive as a *normalised frame* (pandas DataFrame or pyarrow Table) with
the columns of `FRAME_COLUMNS`:

    kommune       str   name of the Kommune
    massnahme     str   name of the Maßnahme, or None for a Kommune-wide value
    kpi           str   catalog key
    period_start  date  first day of the period
    granularity   str   month | quarter | year
    value         float the value (None deletes the current value)
    note          str   optional

History is append-only (`measurement_history`); the current value of a key is the one
from the newest active upload. `measurement` holds those current values and is recomputed
for exactly the keys an upload or rollback touches, inside the same transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from kpi.db import Database, audit, raw_dir
from kpi.ingest import compute as pc

FRAME_COLUMNS = ("kommune", "massnahme", "kpi", "period_start", "granularity", "value", "note")

FRAME_SCHEMA = pa.schema(
    [
        ("kommune", pa.string()),
        ("massnahme", pa.string()),
        ("kpi", pa.string()),
        ("period_start", pa.date32()),
        ("granularity", pa.string()),
        ("value", pa.float64()),
        ("note", pa.string()),
    ]
)

# Key of a measurement; massnahme_id NULL (Kommune-wide) compares as -1.
_KEY_JOIN = (
    "{a}.kommune_id = {b}.kommune_id AND coalesce({a}.massnahme_id, -1) = coalesce({b}.massnahme_id, -1)"
    " AND {a}.kpi = {b}.kpi AND {a}.period_start = {b}.period_start AND {a}.granularity = {b}.granularity"
)


def key_join(a: str, b: str) -> str:
    """Return the SQL join condition on the measurement key between aliases a and b (fixed aliases only)."""
    return _KEY_JOIN.format(a=a, b=b)


@dataclass
class LoadCounts:
    """What a load does or did: rows to insert, update (incl. delete) and leave unchanged."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    new_kommunen: int = 0
    new_massnahmen: int = 0
    upload_id: int | None = None
    duplicate_of: int | None = None  # an earlier active upload of the very same file

    @property
    def changes(self) -> int:
        return self.inserted + self.updated + self.deleted

    def summary_de(self) -> str:
        """Return a one-line German summary."""
        if self.duplicate_of is not None:
            return (
                f"Diese Datei wurde bereits geladen (Upload {self.duplicate_of}); "
                "es wurde nichts geändert."
            )
        parts = [
            f"{self.inserted:,} neu".replace(",", "."),
            f"{self.updated:,} geändert".replace(",", "."),
            f"{self.unchanged:,} unverändert".replace(",", "."),
        ]
        if self.deleted:
            parts.append(f"{self.deleted:,} gelöscht".replace(",", "."))
        head = f"Upload {self.upload_id}: " if self.upload_id else ""
        return head + ", ".join(parts) + "."


def to_arrow(frame) -> pa.Table:
    """Coerce a normalised frame (pandas or Arrow) to the Arrow schema `FRAME_SCHEMA`."""
    if isinstance(frame, pa.Table):
        table = frame
    else:
        frame = frame.copy()
        for col in FRAME_COLUMNS:
            if col not in frame.columns:
                frame[col] = None
        table = pa.Table.from_pandas(frame[list(FRAME_COLUMNS)], preserve_index=False)
    cols = []
    for field in FRAME_SCHEMA:
        if field.name in table.column_names:
            col = table.column(field.name)
            cols.append(col if col.type == field.type else pc.cast(col, field.type))
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=FRAME_SCHEMA)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_RESOLVED = """
    SELECT k.kommune_id, m.massnahme_id, n.kpi, n.period_start, n.granularity, n.value, n.note
    FROM incoming_arrow n
    JOIN kommune k ON k.name = n.kommune
    LEFT JOIN massnahme m ON m.kommune_id = k.kommune_id AND m.name = n.massnahme
    WHERE n.massnahme IS NULL OR m.massnahme_id IS NOT NULL
"""

# within one file the last row of a key wins (validation warns about duplicates)
_LAST_PER_KEY = """
    WITH numbered AS (
        SELECT *, row_number() OVER () AS _row FROM incoming_arrow
    )
    SELECT k.kommune_id, m.massnahme_id, n.kpi, n.period_start, n.granularity, n.value, n.note
    FROM numbered n
    JOIN kommune k ON k.name = n.kommune
    LEFT JOIN massnahme m ON m.kommune_id = k.kommune_id AND m.name = n.massnahme
    WHERE n.massnahme IS NULL OR m.massnahme_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY k.kommune_id, coalesce(m.massnahme_id, -1), n.kpi, n.period_start, n.granularity
        ORDER BY n._row DESC) = 1
"""


def _classify(cur: duckdb.DuckDBPyConnection, table: pa.Table, keys_unique: bool = False) -> None:
    """Temp table `classified`: the incoming rows with ids resolved (names must exist), one per key,
    and column `change`: insert | update | delete | unchanged | noop.

    Within one frame the last row of a key wins; `keys_unique` (the caller checked that every
    key occurs once, as validation does) skips looking for repeated keys.
    """
    cur.register("incoming_arrow", table)
    try:
        incoming = _RESOLVED
        if not keys_unique and cur.execute(
            f"""
            SELECT EXISTS (SELECT 1 FROM ({_RESOLVED})
                           GROUP BY kommune_id, massnahme_id, kpi, period_start, granularity
                           HAVING count(*) > 1)
            """
        ).fetchall()[0][0]:
            incoming = _LAST_PER_KEY  # rare: the numbering costs more than the check above
        cur.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE classified AS
            SELECT i.*,
                   CASE
                     WHEN c.kpi IS NULL AND i.value IS NULL THEN 'noop'
                     WHEN c.kpi IS NULL THEN 'insert'
                     WHEN i.value IS NULL THEN 'delete'
                     WHEN c.value = i.value AND c.note IS NOT DISTINCT FROM i.note THEN 'unchanged'
                     ELSE 'update'
                   END AS change
            FROM ({incoming}) i
            LEFT JOIN measurement c ON {key_join("c", "i")}
            """
        )
    finally:
        cur.unregister("incoming_arrow")


def _ensure_names(cur: duckdb.DuckDBPyConnection, table: pa.Table, dry_run: bool) -> tuple[int, int]:
    """Create missing Kommunen and Maßnahmen (counted); in a dry run only count them."""
    cur.register("names_arrow", table)
    try:
        # the distinct pairs once; everything below reads this small table
        cur.execute("CREATE OR REPLACE TEMP TABLE incoming_names AS SELECT DISTINCT kommune, massnahme FROM names_arrow")
    finally:
        cur.unregister("names_arrow")
    new_k = cur.execute(
        "SELECT count(DISTINCT kommune) FROM incoming_names WHERE kommune NOT IN (SELECT name FROM kommune)"
    ).fetchone()[0]
    new_m = cur.execute(
        """
        SELECT count(*) FROM incoming_names n
        WHERE n.massnahme IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM massnahme m JOIN kommune k USING (kommune_id)
            WHERE k.name = n.kommune AND m.name = n.massnahme)
        """
    ).fetchone()[0]
    if not dry_run:
        cur.execute(
            """
            INSERT INTO kommune (name)
            SELECT DISTINCT kommune FROM incoming_names
            WHERE kommune IS NOT NULL AND kommune NOT IN (SELECT name FROM kommune)
            """
        )
        cur.execute(
            """
            INSERT INTO massnahme (kommune_id, name)
            SELECT DISTINCT k.kommune_id, n.massnahme FROM incoming_names n
            JOIN kommune k ON k.name = n.kommune
            WHERE n.massnahme IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM massnahme m WHERE m.kommune_id = k.kommune_id AND m.name = n.massnahme)
            """
        )
    return int(new_k), int(new_m)


def _counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = cur.execute("SELECT change, count(*) FROM classified GROUP BY change").fetchall()
    return {k: int(v) for k, v in rows}


def preview(db: Database, frame, *, keys_unique: bool = False) -> LoadCounts:
    """Count what loading `frame` would insert, update, delete and leave unchanged; writes nothing."""
    table = to_arrow(frame)
    with db._write_lock:  # the trial inserts below must not race a real load
        cur = db.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            new_k, new_m = _ensure_names(cur, table, dry_run=False)  # rolled back below
            _classify(cur, table, keys_unique)
            c = _counts(cur)
            cur.execute("ROLLBACK")
        finally:
            cur.close()
    return LoadCounts(
        rows=table.num_rows, inserted=c.get("insert", 0), updated=c.get("update", 0),
        unchanged=c.get("unchanged", 0), deleted=c.get("delete", 0),
        new_kommunen=new_k, new_massnahmen=new_m,
    )


def apply_in_transaction(
    cur: duckdb.DuckDBPyConnection,
    frame,
    *,
    file_name: str,
    user: str,
    kind: str = "file",
    sha256: str | None = None,
    profile: str | None = None,
    n_warnings: int = 0,
    keys_unique: bool = False,
) -> LoadCounts:
    """Load `frame` inside the caller's open transaction; returns counts (upload_id None if nothing changed).

    `keys_unique`: the caller checked that every key occurs once in `frame` (see `_classify`).
    """
    table = to_arrow(frame)
    new_k, new_m = _ensure_names(cur, table, dry_run=False)
    _classify(cur, table, keys_unique)
    c = _counts(cur)
    counts = LoadCounts(
        rows=table.num_rows, inserted=c.get("insert", 0), updated=c.get("update", 0),
        unchanged=c.get("unchanged", 0), deleted=c.get("delete", 0),
        new_kommunen=new_k, new_massnahmen=new_m,
    )
    if counts.changes == 0:
        return counts
    upload_id = cur.execute(
        """
        INSERT INTO upload (file_name, sha256, uploaded_by, kind, profile, n_rows, n_inserted,
                            n_updated, n_unchanged, n_warnings)
        VALUES ($f, $s, $u, $k, $p, $r, $i, $up, $un, $w) RETURNING upload_id
        """,
        {"f": file_name, "s": sha256, "u": user, "k": kind, "p": profile, "r": counts.rows,
         "i": counts.inserted, "up": counts.updated + counts.deleted, "un": counts.unchanged,
         "w": n_warnings},
    ).fetchone()[0]
    cur.execute(
        """
        INSERT INTO measurement_history
        SELECT $id, kommune_id, massnahme_id, kpi, period_start, granularity, value, note
        FROM classified WHERE change IN ('insert', 'update', 'delete')
        """,
        {"id": upload_id},
    )
    _apply_current(cur, upload_id, replaces=counts.updated + counts.deleted > 0)
    audit(cur, user, "upload", f"Upload {upload_id}: {file_name} ({counts.summary_de()})")
    counts.upload_id = int(upload_id)
    return counts


def apply(db: Database, frame, **kwargs) -> LoadCounts:
    """Load measurements `frame` as one upload, all or nothing. Re-loading the same file changes nothing."""
    return apply_payload(db, Payload(measurements=frame), **kwargs)


def keep_raw_file(db_path: str, sha: str, suffix: str, data: bytes) -> Path:
    """Store the uploaded raw file beside the database, named by its hash."""
    folder = raw_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sha}{suffix.lower()[:8]}"
    if not target.exists():
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def _apply_current(cur: duckdb.DuckDBPyConnection, upload_id: int, replaces: bool = True) -> None:
    """Make the changed rows of `classified` current: the new upload is the newest active one
    (ids grow and writers are serialised), so its values win without a look at the history.
    `replaces` False: `classified` has no update or delete (nothing current to remove)."""
    if replaces:
        cur.execute(
            f"""
            DELETE FROM measurement c WHERE EXISTS (
                SELECT 1 FROM classified i WHERE i.change IN ('update', 'delete') AND {key_join('c', 'i')})
            """
        )
    cur.execute(
        """
        INSERT INTO measurement
        SELECT kommune_id, massnahme_id, kpi, period_start, granularity, value, $id, note
        FROM classified WHERE change IN ('insert', 'update')
        """,
        {"id": upload_id},
    )


def _refresh_current(cur: duckdb.DuckDBPyConnection, upload_id: int) -> None:
    """Recompute current values for every key upload `upload_id` touched."""
    cur.execute(
        """
        CREATE OR REPLACE TEMP TABLE touched AS
        SELECT DISTINCT kommune_id, massnahme_id, kpi, period_start, granularity
        FROM measurement_history WHERE upload_id = $id
        """,
        {"id": upload_id},
    )
    cur.execute(
        f"DELETE FROM measurement c WHERE EXISTS (SELECT 1 FROM touched t WHERE {key_join('c', 't')})"
    )
    cur.execute(
        f"""
        INSERT INTO measurement
        SELECT h.kommune_id, h.massnahme_id, h.kpi, h.period_start, h.granularity, h.value,
               h.upload_id, h.note
        FROM measurement_history h
        JOIN upload u ON u.upload_id = h.upload_id AND u.status = 'active'
        WHERE EXISTS (SELECT 1 FROM touched t WHERE {key_join('h', 't')})
        QUALIFY row_number() OVER (
            PARTITION BY h.kommune_id, coalesce(h.massnahme_id, -1), h.kpi, h.period_start, h.granularity
            ORDER BY h.upload_id DESC) = 1
            AND h.value IS NOT NULL
        """
    )


class RollbackError(ValueError):
    """A rollback that cannot be done (German message)."""


def rollback(db: Database, upload_id: int, user: str = "unbekannt") -> int:
    """Undo upload `upload_id`: its values give way to the previous ones. Returns keys affected."""
    with db.transaction() as cur:
        row = cur.execute("SELECT status FROM upload WHERE upload_id = $id", {"id": upload_id}).fetchone()
        if row is None:
            raise RollbackError(f"Upload {upload_id} gibt es nicht.")
        if row[0] == "rolled_back":
            raise RollbackError(f"Upload {upload_id} wurde bereits zurückgenommen.")
        cur.execute(
            """
            UPDATE upload SET status = 'rolled_back', rolled_back_at = current_localtimestamp(),
                              rolled_back_by = $u
            WHERE upload_id = $id
            """,
            {"id": upload_id, "u": user},
        )
        _refresh_current(cur, upload_id)
        n = cur.execute("SELECT count(*) FROM touched").fetchone()[0]
        audit(cur, user, "rollback", f"Upload {upload_id} zurückgenommen ({n} Werte betroffen)")
    db.checkpoint()
    return int(n)


def list_uploads(db: Database):
    """Return the upload history, newest first, as a DataFrame with German-ready columns."""
    return db.df(
        """
        SELECT upload_id, uploaded_at, file_name, uploaded_by, kind, n_rows, n_inserted, n_updated,
               n_unchanged, n_warnings, status, rolled_back_at, rolled_back_by
        FROM upload ORDER BY upload_id DESC
        """
    )


def value_history(db: Database, kommune: str, massnahme: str | None, kpi: str, period_start: date):
    """Return every version of one value, newest first, with its upload and status."""
    return db.df(
        """
        SELECT h.upload_id, u.uploaded_at, u.file_name, u.uploaded_by, u.status, h.granularity,
               h.value, h.note
        FROM measurement_history h
        JOIN upload u USING (upload_id)
        JOIN kommune k ON k.kommune_id = h.kommune_id
        LEFT JOIN massnahme m ON m.massnahme_id = h.massnahme_id
        WHERE k.name = $k AND m.name IS NOT DISTINCT FROM $m AND h.kpi = $kpi
          AND h.period_start = $p
        ORDER BY h.upload_id DESC
        """,
        {"k": kommune, "m": massnahme, "kpi": kpi, "p": period_start},
    )


@dataclass
class Payload:
    """Everything one workbook carries besides measurements; each part optional (None).

    kommunen:    name, ags, einwohner
    massnahmen:  kommune, name, handlungsfeld, start_date, golive_date, laufbahn, planned_npv_eur
    targets:     kommune, massnahme, kpi, target_value, target_date, start_value
    baselines:   kommune, massnahme, kpi, value, source
    plans:       kommune, massnahme, year, costs_eur, benefits_eur
    parameters:  key, value, valid_from, source
    criteria:    name, weight_pct
    scores:      kommune, massnahme, criterion, score
    kpis:        key, label, unit, family, polarity, aggregation, min_value, max_value
                 (user-defined KPIs added to the catalog; existing keys are left as they are)
    (all pandas DataFrames with these columns)
    """

    measurements: object = None
    kommunen: object = None
    massnahmen: object = None
    targets: object = None
    baselines: object = None
    plans: object = None
    parameters: object = None
    criteria: object = None
    scores: object = None
    kpis: object = None


def _has_rows(df) -> bool:
    return df is not None and len(df) > 0


def upsert_reference_data(cur: duckdb.DuckDBPyConnection, p: Payload, user: str) -> int:
    """Insert or update master data, targets, baselines, plans, parameters and scores; returns rows written."""
    n = 0
    if _has_rows(p.kpis):
        df = p.kpis.copy()
        for col in ("min_value", "max_value"):
            if col not in df.columns:
                df[col] = None
        cur.register("in_kpi", df)
        cur.execute(
            """
            INSERT INTO kpi (key, label, unit, family, polarity, aggregation, min_value, max_value, builtin)
            SELECT key, label, unit, family, polarity, aggregation, CAST(min_value AS DOUBLE),
                   CAST(max_value AS DOUBLE), false
            FROM in_kpi WHERE key NOT IN (SELECT key FROM kpi)
            """
        )
        cur.unregister("in_kpi")
        n += len(p.kpis)
    if _has_rows(p.kommunen):
        cur.register("in_k", p.kommunen)
        cur.execute(
            """
            INSERT INTO kommune (name, ags, einwohner)
            SELECT DISTINCT name, ags, einwohner FROM in_k WHERE name NOT IN (SELECT name FROM kommune)
            """
        )
        cur.execute(
            """
            UPDATE kommune SET ags = coalesce(i.ags, kommune.ags),
                               einwohner = coalesce(i.einwohner, kommune.einwohner)
            FROM in_k i WHERE i.name = kommune.name
              AND (i.ags IS DISTINCT FROM kommune.ags OR i.einwohner IS DISTINCT FROM kommune.einwohner)
            """
        )
        cur.unregister("in_k")
        n += len(p.kommunen)
    if _has_rows(p.massnahmen):
        df = p.massnahmen.copy()
        for col in ("handlungsfeld", "start_date", "golive_date", "laufbahn", "planned_npv_eur"):
            if col not in df.columns:
                df[col] = None
        cur.register("in_m", df)
        cur.execute(
            "INSERT INTO kommune (name) SELECT DISTINCT kommune FROM in_m "
            "WHERE kommune NOT IN (SELECT name FROM kommune)"
        )
        cur.execute(
            "INSERT INTO handlungsfeld SELECT DISTINCT handlungsfeld FROM in_m "
            "WHERE handlungsfeld IS NOT NULL AND handlungsfeld NOT IN (SELECT name FROM handlungsfeld)"
        )
        cur.execute(
            """
            INSERT INTO massnahme (kommune_id, name)
            SELECT DISTINCT k.kommune_id, i.name FROM in_m i JOIN kommune k ON k.name = i.kommune
            WHERE NOT EXISTS (SELECT 1 FROM massnahme m WHERE m.kommune_id = k.kommune_id AND m.name = i.name)
            """
        )
        cur.execute(
            """
            UPDATE massnahme SET
                handlungsfeld = coalesce(i.handlungsfeld, massnahme.handlungsfeld),
                start_date = coalesce(CAST(i.start_date AS DATE), massnahme.start_date),
                golive_date = coalesce(CAST(i.golive_date AS DATE), massnahme.golive_date),
                laufbahn = coalesce(i.laufbahn, massnahme.laufbahn),
                planned_npv_eur = coalesce(CAST(i.planned_npv_eur AS DOUBLE), massnahme.planned_npv_eur)
            FROM in_m i JOIN kommune k ON k.name = i.kommune
            WHERE massnahme.kommune_id = k.kommune_id AND massnahme.name = i.name
            """
        )
        cur.unregister("in_m")
        n += len(p.massnahmen)
    resolve = """
        FROM {src} i JOIN kommune k ON k.name = i.kommune
        LEFT JOIN massnahme m ON m.kommune_id = k.kommune_id AND m.name = i.massnahme
    """
    if _has_rows(p.targets):
        df = p.targets.copy()
        if "start_value" not in df.columns:
            df["start_value"] = None
        cur.register("in_t", df)
        cur.execute(
            "DELETE FROM target t USING (SELECT k.kommune_id, m.massnahme_id, i.kpi, CAST(i.target_date AS DATE) AS d "
            + resolve.format(src="in_t")
            + ") x WHERE t.kommune_id = x.kommune_id AND coalesce(t.massnahme_id, -1) = coalesce(x.massnahme_id, -1)"
            " AND t.kpi = x.kpi AND t.target_date = x.d"
        )
        cur.execute(
            "INSERT INTO target (kommune_id, massnahme_id, kpi, target_value, target_date, start_value) "
            "SELECT k.kommune_id, m.massnahme_id, i.kpi, i.target_value, CAST(i.target_date AS DATE), "
            "CAST(i.start_value AS DOUBLE) " + resolve.format(src="in_t")
        )
        cur.unregister("in_t")
        n += len(p.targets)
    if _has_rows(p.baselines):
        df = p.baselines.copy()
        if "source" not in df.columns:
            df["source"] = None
        cur.register("in_b", df)
        cur.execute(
            "DELETE FROM baseline b USING (SELECT m.massnahme_id, i.kpi " + resolve.format(src="in_b")
            + ") x WHERE b.massnahme_id = x.massnahme_id AND b.kpi = x.kpi"
        )
        cur.execute(
            "INSERT INTO baseline SELECT m.massnahme_id, i.kpi, i.value, i.source "
            + resolve.format(src="in_b") + " WHERE m.massnahme_id IS NOT NULL"
        )
        cur.unregister("in_b")
        n += len(p.baselines)
    if _has_rows(p.plans):
        cur.register("in_p", p.plans)
        cur.execute(
            "DELETE FROM plan p USING (SELECT m.massnahme_id, CAST(i.year AS INTEGER) AS year "
            + resolve.format(src="in_p") + ") x WHERE p.massnahme_id = x.massnahme_id AND p.year = x.year"
        )
        cur.execute(
            "INSERT INTO plan SELECT m.massnahme_id, CAST(i.year AS INTEGER), coalesce(i.costs_eur, 0), "
            "coalesce(i.benefits_eur, 0) " + resolve.format(src="in_p") + " WHERE m.massnahme_id IS NOT NULL"
        )
        cur.unregister("in_p")
        n += len(p.plans)
    if _has_rows(p.parameters):
        df = p.parameters.copy()
        if "source" not in df.columns:
            df["source"] = None
        cur.register("in_par", df)
        # a new version only where the value differs from the version in force at that date
        cur.execute(
            """
            INSERT INTO parameter (key, value, valid_from, source, is_example, created_by)
            SELECT i.key, i.value, CAST(i.valid_from AS DATE), i.source, false, $u FROM in_par i
            WHERE i.value IS DISTINCT FROM (
                SELECT p.value FROM parameter p WHERE p.key = i.key AND p.valid_from <= CAST(i.valid_from AS DATE)
                ORDER BY p.valid_from DESC, p.parameter_id DESC LIMIT 1)
            """,
            {"u": user},
        )
        cur.unregister("in_par")
        n += len(p.parameters)
    if _has_rows(p.criteria):
        cur.register("in_c", p.criteria)
        cur.execute("DELETE FROM criterion")
        cur.execute(
            "INSERT INTO criterion SELECT name, weight_pct, row_number() OVER () FROM in_c"
        )
        cur.unregister("in_c")
        n += len(p.criteria)
    if _has_rows(p.scores):
        cur.register("in_s", p.scores)
        cur.execute(
            "DELETE FROM score s USING (SELECT m.massnahme_id, i.criterion " + resolve.format(src="in_s")
            + ") x WHERE s.massnahme_id = x.massnahme_id AND s.criterion = x.criterion"
        )
        cur.execute(
            "INSERT INTO score SELECT m.massnahme_id, i.criterion, i.score "
            + resolve.format(src="in_s") + " WHERE m.massnahme_id IS NOT NULL"
        )
        cur.unregister("in_s")
        n += len(p.scores)
    return n


def apply_payload(
    db: Database,
    payload: Payload,
    *,
    file_name: str,
    user: str = "unbekannt",
    kind: str = "file",
    raw_bytes: bytes | None = None,
    profile: str | None = None,
    n_warnings: int = 0,
    keys_unique: bool = False,
    sha256: str | None = None,
) -> LoadCounts:
    """Load a whole workbook (reference data and measurements) as one transaction.

    `sha256`: the hash of `raw_bytes` when the caller has it already (the import pipeline)."""
    sha = sha256 or (sha256_bytes(raw_bytes) if raw_bytes is not None else None)
    with db.transaction() as cur:
        upsert_reference_data(cur, payload, user)
        frame = payload.measurements if payload.measurements is not None else FRAME_SCHEMA.empty_table()
        counts = apply_in_transaction(
            cur, frame, file_name=file_name, user=user, kind=kind, sha256=sha,
            profile=profile, n_warnings=n_warnings, keys_unique=keys_unique,
        )
        if counts.upload_id is None and sha is not None:
            counts.duplicate_of = find_active_upload_by_hash_cur(cur, sha)
    if counts.upload_id is not None:
        if raw_bytes is not None and db.path != ":memory:":
            keep_raw_file(db.path, sha, Path(file_name).suffix, raw_bytes)
    db.checkpoint()
    return counts


def find_active_upload_by_hash_cur(cur: duckdb.DuckDBPyConnection, sha256: str) -> int | None:
    row = cur.execute(
        "SELECT max(upload_id) FROM upload WHERE sha256 = $h AND status = 'active'", {"h": sha256}
    ).fetchone()
    return row[0] if row and row[0] is not None else None
