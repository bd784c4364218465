"""Set-based SQL for dashboard series: KPI values aggregated to month/quarter/year in DuckDB.

Only what a chart shows leaves the database: one row per period and series (a few hundred
rows at most), never raw measurements.

Aggregation rules (column `kpi.aggregation`), applied over time *and* over Maßnahmen:
- sum: sum of all values in the period;
- mean: plain mean of the values;
- wmean_fallzahl: mean weighted by the `fallzahl` of the same Maßnahme and month,
  Σ(value·fallzahl)/Σ(fallzahl); values without a case count are left out when any value in the
  period has one, and the plain mean is used when none has;
- last: per Maßnahme the newest value within the period, then the mean over Maßnahmen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import pandas as pd

from kpi.db import Database
from kpi.filters import Filters

MAX_SERIES = 8  # lines per chart: the Okabe–Ito palette has 8 colours, a projector shows no more
MAX_GOLIVE_MARKS = 12  # more go-live rules than this are unreadable
BASELINE_MONTHS = 12  # DOMAIN.md §4: baseline = mean of up to 12 months before go-live

# Identifier allow-lists: only these SQL fragments are ever formatted into a statement.
_BUCKET = {
    "month": "date_trunc('month', v.period)",
    "quarter": "date_trunc('quarter', v.period)",
    "year": "date_trunc('year', v.period)",
}
MONTHS_PER_BUCKET = {"month": 1, "quarter": 3, "year": 12}
_AGGREGATIONS = ("sum", "mean", "wmean_fallzahl", "last")
_BY = ("total", "kommune", "massnahme")


def _scope(filters: Filters) -> Filters:
    """The filter without KPI/family choices: a page decides which KPIs it shows."""
    return replace(filters, kpi=(), family=())


def kpi_info(db: Database, kpi: str) -> dict:
    """Catalog entry of a KPI as a dict (key, label, unit, polarity, aggregation); KeyError if unknown."""
    rows = db.query("SELECT key, label, unit, family, polarity, aggregation FROM kpi WHERE key = $k", {"k": kpi})
    if not rows:
        raise KeyError(kpi)
    return dict(zip(("key", "label", "unit", "family", "polarity", "aggregation"), rows[0], strict=True))


@dataclass(frozen=True)
class Selection:
    """What the filter selects, decided once per page: counts, how to split series, the single Maßnahme."""

    kommunen: int
    massnahmen: int
    split: str  # total | kommune | massnahme
    single: tuple[str, str] | None  # (kommune, massnahme) when exactly one Maßnahme is selected


def selection(db: Database, filters: Filters) -> Selection:
    """Count the selected Kommunen and Maßnahmen and choose the split of chart series.

    'massnahme' when one Kommune (or a few chosen Maßnahmen) is selected, else 'kommune';
    'total' when more series than MAX_SERIES would result.
    """
    where, params = _massnahme_where(filters)
    row = db.query(
        f"""SELECT count(DISTINCT k.kommune_id), count(*), min(k.name), min(m.name)
            FROM massnahme m JOIN kommune k USING (kommune_id) {where}""", params)[0]
    n_k, n_m = int(row[0]), int(row[1])
    single = (row[2], row[3]) if n_m == 1 else None
    if n_m <= 1:
        split = "total"
    elif n_k <= 1 or (filters.massnahme and n_m <= MAX_SERIES):
        split = "massnahme" if n_m <= MAX_SERIES else "total"
    else:
        split = "kommune" if n_k <= MAX_SERIES else "total"
    return Selection(n_k, n_m, split, single)


def _massnahme_where(filters: Filters) -> tuple[str, dict]:
    """WHERE clause on massnahme m JOIN kommune k for the Kommune/Maßnahme/Handlungsfeld filters.

    list_contains($list, col), not col IN (SELECT unnest($list)): the subquery costs ~6 ms per
    statement, more than the small tables it filters (same rows: NULL and no match both drop a row).
    """
    parts, params = [], {}
    if filters.kommune:
        parts.append("list_contains($kommune, k.name)")
        params["kommune"] = list(filters.kommune)
    if filters.massnahme:
        parts.append("list_contains($massnahme, m.name)")
        params["massnahme"] = list(filters.massnahme)
    if filters.handlungsfeld:
        parts.append("list_contains($handlungsfeld, m.handlungsfeld)")
        params["handlungsfeld"] = list(filters.handlungsfeld)
    return ("WHERE " + " AND ".join(parts) if parts else ""), params


def _measurement_filter(filters: Filters) -> tuple[list[str], dict]:
    """Conditions on `measurement me` for the Kommune/Maßnahme/Handlungsfeld/period filters.

    Names are resolved to ids in small semi-joins, so the big table is scanned without joins.
    Kommune-wide values (no Maßnahme) count unless Maßnahmen or Handlungsfelder are chosen.
    """
    parts, params = [], {}
    if filters.massnahme or filters.handlungsfeld:
        where, p = _massnahme_where(filters)
        parts.append(f"me.massnahme_id IN (SELECT m.massnahme_id FROM massnahme m "
                     f"JOIN kommune k USING (kommune_id) {where})")
        params.update(p)
    elif filters.kommune:
        parts.append("me.kommune_id IN (SELECT kommune_id FROM kommune WHERE list_contains($kommune, name))")
        params["kommune"] = list(filters.kommune)
    if filters.period_from is not None:
        parts.append("me.period_start >= $period_from")
        params["period_from"] = filters.period_from
    if filters.period_to is not None:
        parts.append("me.period_start <= $period_to")
        params["period_to"] = filters.period_to
    return parts, params


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame({"kpi": pd.Series(dtype=object), "period": pd.Series(dtype="datetime64[ns]"),
                         "kommune": pd.Series(dtype=object), "massnahme": pd.Series(dtype=object),
                         "series": pd.Series(dtype=object), "is_total": pd.Series(dtype=bool),
                         "value": pd.Series(dtype=float), "months": pd.Series(dtype=int)})


def kpi_series_many(db: Database, filters: Filters, kpis: tuple[str, ...], by: str = "total",
                    granularity: str | None = None) -> pd.DataFrame:
    """Several KPIs per period and series in one scan, each aggregated by its own rule (module doc).

    Stage 1 aggregates per KPI, period and Maßnahme (sums, counts, weighted sums, newest value);
    stage 2 combines those small rows per series and for the total (GROUPING SETS).
    Columns: kpi, period (datetime64), kommune, massnahme, series ('Gesamt' for totals), is_total,
    value, months (months from the first to the last value in the period, the most of any member).
    """
    granularity = granularity or filters.granularity
    if granularity not in _BUCKET or by not in _BY:
        raise ValueError(f"unknown granularity {granularity!r} or split {by!r}")
    if not kpis:
        return _empty_series()
    scope, params = _measurement_filter(filters)
    # a constant IN list (values bound as $k0, $k1, …) is pushed into the scan; a subquery is not
    names = [f"k{i}" for i in range(len(kpis))]
    parts = ["me.kpi IN (" + ", ".join(f"${n}" for n in names) + ")", *scope]
    params.update(zip(names, kpis, strict=True))
    params["kpis"] = list(kpis)
    rules = dict(db.query("SELECT key, aggregation FROM kpi WHERE list_contains($kpis, key)",
                          {"kpis": list(kpis)}))
    weighted = [k for k in kpis if rules.get(k) == "wmean_fallzahl"]
    # the case-count join only when a weighted KPI is asked for: it doubles the work. The scope
    # conditions (Kommune, Maßnahme, period) hold for the case counts too: they are on the join keys,
    # and without them the join would hash the case counts of every Kommune.
    weight_join = f"""
            LEFT JOIN (SELECT me.kommune_id, me.massnahme_id, me.period_start, me.granularity, me.value
                       FROM measurement me WHERE {" AND ".join(["me.kpi = 'fallzahl'", *scope])}) w
                 ON list_contains($weighted, me.kpi)
                 AND w.kommune_id = me.kommune_id AND coalesce(w.massnahme_id, -1) = coalesce(me.massnahme_id, -1)
                 AND w.period_start = me.period_start AND w.granularity = me.granularity""" if weighted else ""
    weight_cols = ("sum(me.value * w.value) FILTER (WHERE w.value > 0) AS sw, "
                   "sum(w.value) FILTER (WHERE w.value > 0) AS ww" if weighted else
                   "NULL::DOUBLE AS sw, NULL::DOUBLE AS ww")
    if weighted:
        params["weighted"] = weighted
    per_unit = "last" in rules.values()  # 'last' needs the newest value of each Maßnahme first
    newest = "arg_max(me.value, me.period_start)" if per_unit else "NULL::DOUBLE"
    # stage 1 groups no finer than needed: fewer groups is what makes it fast
    with_k = per_unit or by != "total"
    with_m = per_unit or by == "massnahme"
    unit_cols = (", me.kommune_id" if with_k else "") + (", me.massnahme_id" if with_m else "")
    name_cols = ("k.name AS kommune" if with_k else "NULL::VARCHAR AS kommune") + ", " + (
        "m.name AS massnahme" if with_m else "NULL::VARCHAR AS massnahme")
    name_joins = ("JOIN kommune k USING (kommune_id) " if with_k else "") + (
        "LEFT JOIN massnahme m ON m.massnahme_id = u.massnahme_id" if with_m else "")
    bucket = _BUCKET[granularity].replace("v.period", "me.period_start")
    group_cols = {"total": [], "kommune": ["kommune"], "massnahme": ["kommune", "massnahme"]}[by]
    keys = ", ".join(["kpi", "bucket", *group_cols])
    sets = f"GROUPING SETS (({keys}), (kpi, bucket))" if group_cols else "(kpi, bucket)"
    sel_groups = "".join(f", {c}" for c in group_cols) + "".join(
        f", NULL::VARCHAR AS {c}" for c in ("kommune", "massnahme") if c not in group_cols)
    total_flag = f"grouping({group_cols[0]}) = 1" if group_cols else "true"
    sql = f"""
        WITH rules AS (SELECT key AS kpi, aggregation AS rule FROM kpi WHERE list_contains($kpis, key)),
        unit AS (
            SELECT me.kpi, {bucket} AS bucket{unit_cols},
                   sum(me.value) AS s, count(me.value) AS n, {weight_cols},
                   {newest} AS newest,
                   date_diff('month', min(me.period_start), max(me.period_start)) + 1 AS months
            FROM measurement me {weight_join}
            WHERE {" AND ".join(parts)}
            GROUP BY ALL),
        named AS (
            SELECT u.*, r.rule, {name_cols}
            FROM unit u JOIN rules r USING (kpi) {name_joins})
        SELECT kpi, bucket AS period{sel_groups}, {total_flag} AS is_total,
               CASE any_value(rule)
                   WHEN 'sum' THEN sum(s)
                   WHEN 'mean' THEN sum(s) / sum(n)
                   WHEN 'wmean_fallzahl' THEN coalesce(sum(sw) / nullif(sum(ww), 0), sum(s) / sum(n))
                   ELSE avg(newest) END AS value,
               max(months) AS months
        FROM named
        GROUP BY {sets}
        ORDER BY kpi, is_total, kommune, massnahme, period"""
    df = db.df(sql, params)
    if df.empty:
        return _empty_series()
    df["period"] = pd.to_datetime(df["period"])
    df["is_total"] = df["is_total"].astype(bool)
    df["months"] = df["months"].astype(int)
    df["series"] = None
    for kpi in df["kpi"].unique():
        idx = df["kpi"] == kpi
        df.loc[idx, "series"] = _series_labels(df[idx], by)
    return df[["kpi", "period", "kommune", "massnahme", "series", "is_total", "value", "months"]]


def kpi_series(db: Database, filters: Filters, kpi: str, by: str = "total",
               granularity: str | None = None) -> pd.DataFrame:
    """One KPI per period and series, aggregated by its rule, plus the total of all series.

    Columns period (datetime64), kommune, massnahme, series ('Gesamt' for totals), is_total, value,
    months. Empty frame (same columns) when nothing matches.
    """
    df = kpi_series_many(db, filters, (kpi,), by, granularity)
    return df.drop(columns="kpi").reset_index(drop=True)


def _series_labels(df: pd.DataFrame, by: str) -> pd.Series:
    """'Gesamt' for totals; Kommune; Maßnahme, with the Kommune added where names repeat."""
    if by == "total":
        return pd.Series("Gesamt", index=df.index)
    if by == "kommune":
        return df["kommune"].where(~df["is_total"], "Gesamt")
    part = df[~df["is_total"]]
    name = part["massnahme"].fillna("(ganze Kommune)")
    ambiguous = part.assign(name=name).groupby("name")["kommune"].nunique()
    repeated = name.map(ambiguous).fillna(1) > 1
    label = name.where(~repeated, name + " (" + part["kommune"] + ")")
    out = pd.Series("Gesamt", index=df.index, dtype=object)
    out[part.index] = label
    return out


def ratio_series(db: Database, filters: Filters, numerator: str, denominator: str, by: str = "total",
                 granularity: str | None = None) -> pd.DataFrame:
    """Σ numerator / Σ denominator per period and series, over months where both were reported.

    Same columns as `kpi_series` plus num and den; value is a fraction (0.55 = 55 %).
    """
    granularity = granularity or filters.granularity
    if granularity not in _BUCKET or by not in _BY:
        raise ValueError(f"unknown granularity {granularity!r} or split {by!r}")
    where, params = _scope(filters).where_sql("v")
    where = (where + " AND " if where else "WHERE ") + "v.kpi = $num"
    params.update(num=numerator, den=denominator)
    group_cols = {"total": [], "kommune": ["kommune"], "massnahme": ["kommune", "massnahme"]}[by]
    keys = ", ".join(["bucket", *group_cols])
    sets = f"GROUPING SETS (({keys}), (bucket))" if group_cols else "(bucket)"
    sel_groups = "".join(f", {c}" for c in group_cols) + "".join(
        f", NULL::VARCHAR AS {c}" for c in ("kommune", "massnahme") if c not in group_cols)
    total_flag = f"grouping({group_cols[0]}) = 1" if group_cols else "true"
    sql = f"""
        WITH src AS (
            SELECT {_BUCKET[granularity]} AS bucket, v.kommune, v.massnahme, v.period,
                   v.value AS num, d.value AS den
            FROM v_measurement v
            JOIN measurement d ON d.kpi = $den AND d.kommune_id = v.kommune_id
                 AND coalesce(d.massnahme_id, -1) = coalesce(v.massnahme_id, -1)
                 AND d.period_start = v.period AND d.granularity = v.granularity
            {where})
        SELECT bucket AS period{sel_groups}, {total_flag} AS is_total,
               sum(num) / nullif(sum(den), 0) AS value, sum(num) AS num, sum(den) AS den,
               count(DISTINCT date_trunc('month', period)) AS months
        FROM src
        GROUP BY {sets}
        ORDER BY is_total, kommune, massnahme, period"""
    df = db.df(sql, params)
    df["period"] = pd.to_datetime(df["period"])
    df["is_total"] = df["is_total"].astype(bool)
    df["series"] = _series_labels(df, by) if len(df) else pd.Series(dtype=object)
    return df[["period", "kommune", "massnahme", "series", "is_total", "value", "months", "num", "den"]]


def golive_marks(db: Database, filters: Filters) -> pd.DataFrame:
    """Go-live dates of the selected Maßnahmen inside the period range (at most MAX_GOLIVE_MARKS, earliest first).

    Columns: massnahme, kommune, golive (datetime64), label.
    """
    where, params = _massnahme_where(filters)
    parts = [where[6:]] if where else []
    parts.append("m.golive_date IS NOT NULL")
    if filters.period_from is not None:
        parts.append("m.golive_date >= $period_from")
        params["period_from"] = filters.period_from
    if filters.period_to is not None:
        parts.append("m.golive_date <= $period_to")
        params["period_to"] = filters.period_to
    params["lim"] = MAX_GOLIVE_MARKS + 1
    df = db.df(
        "SELECT m.name AS massnahme, k.name AS kommune, m.golive_date AS golive "
        "FROM massnahme m JOIN kommune k USING (kommune_id) WHERE " + " AND ".join(parts)
        + " ORDER BY golive, massnahme LIMIT $lim",
        params,
    )
    df["golive"] = pd.to_datetime(df["golive"])
    if len(df) > MAX_GOLIVE_MARKS:
        return df.iloc[0:0].assign(label=pd.Series(dtype=object))
    repeated = df.groupby("massnahme")["kommune"].transform("nunique") > 1
    df["label"] = df["massnahme"].where(~repeated, df["massnahme"] + " (" + df["kommune"] + ")")
    return df


def targets(db: Database, filters: Filters, kpi: str) -> pd.DataFrame:
    """Targets of one KPI for the selected Maßnahmen (or Kommunen for Kommune-wide targets).

    Columns: massnahme, kommune, target_value, target_date (datetime64), start_value.
    """
    where, params = _massnahme_where(filters)
    params["kpi_key"] = kpi
    cond = where[6:] if where else "true"
    df = db.df(
        "SELECT m.name AS massnahme, k.name AS kommune, t.target_value, t.target_date, t.start_value "
        "FROM target t JOIN kommune k USING (kommune_id) "
        "LEFT JOIN massnahme m ON m.massnahme_id = t.massnahme_id "
        f"WHERE t.kpi = $kpi_key AND ({cond}) "
        "ORDER BY k.name, m.name, t.target_date",
        params,
    )
    df["target_date"] = pd.to_datetime(df["target_date"])
    return df


@dataclass(frozen=True)
class Baseline:
    """A Maßnahme's Ausgangswert of one KPI, per month (sums: the monthly mean)."""

    massnahme: str
    kommune: str
    value: float
    spread: float | None  # standard deviation of the months used; None for an explicit baseline
    window_from: date | None
    window_to: date | None
    golive: date | None
    source: str  # 'measured' | 'explicit'

    def per_bucket(self, granularity: str, aggregation: str) -> float:
        """The baseline at the chart's granularity: sums scale with months per period, others do not."""
        return self.value * (MONTHS_PER_BUCKET[granularity] if aggregation == "sum" else 1)


def baseline(db: Database, kommune: str, massnahme: str, kpi: str) -> Baseline | None:
    """Baseline of a KPI for one Maßnahme as the metrics engine defines it, plus the spread of its months.

    Value, window and source come from `metrics.engine.baselines` (the same figure the tiles use);
    the spread is the standard deviation of the monthly values in that window. None without baseline.
    """
    from kpi.metrics.engine import baselines

    # fallzahl must be among the KPIs: the engine weights by it only when it is in the selection
    rows = baselines(db, kommune, massnahme, (kpi, "fallzahl"))
    rows = rows[rows["kpi"] == kpi]
    if rows.empty:
        return None
    r = rows.iloc[0]
    golive = db.query("SELECT m.golive_date FROM massnahme m JOIN kommune k USING (kommune_id) "
                      "WHERE k.name = $k AND m.name = $m", {"k": kommune, "m": massnahme})
    golive_date = golive[0][0] if golive else None
    if r["method"] != "vorher":
        return Baseline(massnahme, kommune, float(r["value"]), None, None, None, golive_date, "explicit")
    first, last = _as_date(r["first_month"]), _as_date(r["last_month"])
    spread = db.query(
        "SELECT stddev_samp(me.value) FROM measurement me JOIN massnahme m USING (massnahme_id) "
        "JOIN kommune k ON k.kommune_id = m.kommune_id "
        "WHERE k.name = $k AND m.name = $m AND me.kpi = $kpi AND me.granularity = 'month' "
        "AND me.period_start BETWEEN $first AND $last",
        {"k": kommune, "m": massnahme, "kpi": kpi, "first": first, "last": last})[0][0]
    return Baseline(massnahme, kommune, float(r["value"]), None if spread is None else float(spread),
                    first, last, golive_date, "measured")


def _as_date(x) -> date | None:
    if x is None:
        return None
    return x.date() if hasattr(x, "date") and callable(x.date) else x
