"""Chart panels: query + chart + text alternative in one call, so pages cache the finished spec.

A panel's chart is a Vega-Lite dict: building and validating Altair charts costs more than
the queries, so pages cache the dict (keyed by data version and filters) and redraw it as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from kpi import fmt, queries
from kpi.charts import bars, timeseries
from kpi.db import Database
from kpi.filters import Filters

# Fixed thresholds drawn into a KPI's chart (DOMAIN.md §4: BIK BITV-Test 100-point scale).
REFERENCES: dict[str, tuple[tuple[float, str], ...]] = {
    "bitv_score": ((90.0, "ab 90: gut zugänglich"), (95.0, "ab 95: sehr gut zugänglich")),
}


@dataclass
class Panel:
    """What a chart block draws: title, Vega-Lite spec, summary sentence, table, optional note."""

    title: str
    spec: dict
    summary: str
    table: pd.DataFrame
    note: str | None = None
    extra: dict = field(default_factory=dict)


def _note(sel: queries.Selection, baseline_possible: bool = True) -> str | None:
    """Plain-German hint on how the series were split and when target/baseline appear."""
    parts = []
    if sel.split == "total" and sel.massnahmen > 1:
        parts.append(f"{sel.massnahmen} Maßnahmen in {sel.kommunen} Kommunen zusammengefasst; "
                     "für einzelne Linien weniger Kommunen oder Maßnahmen wählen.")
    if baseline_possible and sel.single is None and sel.massnahmen > 1:
        parts.append("Ausgangswert und Zielwert erscheinen, wenn genau eine Maßnahme gewählt ist.")
    return " ".join(parts) or None


def kpi_panels(db: Database, filters: Filters, kpis: tuple[str, ...], height: int = 380) -> list[Panel]:
    """One panel per KPI over time for the filter (see `kpi_panel`); the selection is decided once."""
    sel = queries.selection(db, filters)
    golive = queries.golive_marks(db, filters)
    many = queries.kpi_series_many(db, filters, kpis, by=sel.split)  # one scan for all KPIs of a page
    return [kpi_panel(db, filters, kpi, height=height, sel=sel, golive=golive,
                      series=many[many["kpi"] == kpi].drop(columns="kpi").reset_index(drop=True))
            for kpi in kpis]


def kpi_panel(db: Database, filters: Filters, kpi: str, height: int = 380,
              sel: queries.Selection | None = None, golive: pd.DataFrame | None = None,
              series: pd.DataFrame | None = None) -> Panel:
    """One KPI over time: split by Kommune or Maßnahme, go-live marks, target and baseline.

    Target and baseline are drawn when the filter selects exactly one Maßnahme (they belong to it).
    """
    sel = sel or queries.selection(db, filters)
    golive = queries.golive_marks(db, filters) if golive is None else golive
    info = queries.kpi_info(db, kpi)
    series = queries.kpi_series(db, filters, kpi, by=sel.split) if series is None else series
    base = queries.baseline(db, sel.single[0], sel.single[1], kpi) if sel.single else None
    target = queries.targets(db, filters, kpi) if sel.single else None
    g = filters.granularity
    scale = queries.MONTHS_PER_BUCKET[g] if info["aggregation"] == "sum" else 1
    chart = timeseries.kpi_over_time(
        series, label=info["label"], unit=info["unit"], granularity=g, split=sel.split, golive=golive,
        target=target,
        baseline=base.per_bucket(g, info["aggregation"]) if base else None,
        baseline_spread=base.spread * scale if base and base.spread else None,
        references=tuple(r for r in REFERENCES.get(kpi, ())  # a target on the same line says more
                         if target is None or r[0] not in set(target["target_value"])),
        height=height,
    )
    summary = timeseries.summary_sentence(
        series, label=info["label"], unit=info["unit"], polarity=info["polarity"],
        aggregation=info["aggregation"], granularity=g, baseline=base)
    table = timeseries.series_table(series, unit=info["unit"], granularity=g, split=sel.split)
    return Panel(title=info["label"], spec=chart, summary=summary, table=table, note=_note(sel))


def online_share_panel(db: Database, filters: Filters, height: int = 380) -> Panel:
    """Share of online cases (Σ online_faelle / Σ fallzahl per period) over time, split like kpi_panel."""
    sel = queries.selection(db, filters)
    series = queries.ratio_series(db, filters, "online_faelle", "fallzahl", by=sel.split)
    golive = queries.golive_marks(db, filters)
    label = "Online-Quote (Anteil online eingegangener Fälle)"
    g = filters.granularity
    # the chart shows percent points (0–100): d3's German percent format lacks the space before '%'
    chart = timeseries.kpi_over_time(series.assign(value=series["value"] * 100), label=label, unit="%",
                                     granularity=g, split=sel.split, golive=golive, height=height)
    summary = timeseries.summary_sentence(series, label=label, unit="Anteil", polarity="higher",
                                          aggregation="ratio", granularity=g)
    table = timeseries.series_table(series, unit="Anteil", granularity=g, split=sel.split)
    return Panel(title=label, spec=chart, summary=summary, table=table, note=_note(sel, False))


_A11Y_COLUMNS = {
    "bitv_score": "BITV-Test",
    "bitv_pruefschritte_pct": "erfüllte Prüfschritte",
    "wcag_verstoesse": "offene Barrieren",
    "lighthouse_a11y": "Lighthouse (automatisch)",
}
_TREND_DE = {"besser": "▲ besser", "schlechter": "▼ schlechter", "unverändert": "● unverändert"}


ACCESSIBILITY_ROWS = 30  # more rows are no overview: then the weakest BITV results come first


def accessibility_table(db: Database, kommune: str | None = None,
                        massnahmen: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per Maßnahme: newest BITV score with its verdict, steps passed, open barriers, Lighthouse; German text.

    Trends vs. the previous test are written as symbol and word (never colour alone);
    `massnahmen` narrows the rows to those names (empty: all). Beyond ACCESSIBILITY_ROWS
    Maßnahmen only the ones with the lowest BITV score are listed.
    """
    from kpi.metrics.accessibility import accessibility_summary

    df = accessibility_summary(db, kommune)
    if massnahmen:
        df = df[df["massnahme"].isin(massnahmen)]
    if df.empty:
        return pd.DataFrame(columns=["Kommune", "Maßnahme", "Stand", *_A11Y_COLUMNS.values()])
    # plain dicts: iterating pandas groups costs ~20 ms per Maßnahme, too slow for 1.000 of them;
    # built from column lists (to_dict("records") boxes each Arrow string cell: 3× slower)
    names = ("kommune", "massnahme", "period", "kpi", "kpi_label", "value", "unit", "rating_de", "trend")
    by_massnahme: dict[tuple[str, str], dict] = {}
    for values in zip(*(df[c].tolist() for c in names), strict=True):
        r = dict(zip(names, values, strict=True))
        row = by_massnahme.setdefault((r["kommune"], r["massnahme"]), {
            "Kommune": r["kommune"], "Maßnahme": r["massnahme"], "_period": r["period"], "_bitv": float("inf")})
        row["_period"] = max(row["_period"], r["period"])
        if r["kpi"] == "bitv_score" and not pd.isna(r["value"]):
            row["_bitv"] = float(r["value"])
        text = timeseries.format_value(r["value"], r["unit"])
        if r["rating_de"]:
            text += f" – {r['rating_de']}"
        if isinstance(r["trend"], str) and r["trend"] in _TREND_DE:
            text += f" ({_TREND_DE[r['trend']]})"
        row[_A11Y_COLUMNS.get(r["kpi"], r["kpi_label"])] = text
    rows = sorted(by_massnahme.values(), key=lambda x: (x["Kommune"], x["Maßnahme"]))
    for row in rows:
        row["Stand"] = fmt.month_de(row.pop("_period"))
    out = pd.DataFrame(rows)
    if len(out) > ACCESSIBILITY_ROWS:
        out = out.sort_values(["_bitv", "Kommune", "Maßnahme"], kind="stable").head(ACCESSIBILITY_ROWS)
    cols = ["Kommune", "Maßnahme", "Stand", *[c for c in _A11Y_COLUMNS.values() if c in out.columns]]
    return out[cols].fillna("–").reset_index(drop=True)


def ozg_panel(db: Database, kommune: str | None = None) -> Panel:
    """OZG maturity (model 1.1): Maßnahmen per level, newest value each; OZG duty met from level 3."""
    from kpi.metrics.accessibility import ozg_distribution

    dist = ozg_distribution(db, kommune)
    dist = dist[dist["model"] == "1.1"] if len(dist) else dist
    title = "OZG-Reifegrad der Online-Dienste (Modell 1.1)"
    if dist.empty or dist["count"].sum() == 0:
        return Panel(title, bars.ozg_levels(dist.head(0) if len(dist) else pd.DataFrame(
            columns=["level", "level_de", "count", "ozg_met"])),
            "Für die Auswahl liegen keine Angaben zum OZG-Reifegrad vor.", pd.DataFrame())
    total = int(dist["count"].sum())
    met = int(dist.loc[dist["ozg_met"].astype(bool), "count"].sum())
    top = dist.sort_values(["count", "level"], ascending=False).iloc[0]
    summary = (f"{met} von {total} Maßnahmen erreichen mindestens Reifegrad 3 (OZG-Pflicht erfüllt); "
               f"am häufigsten ist Reifegrad {top['level_de']} ({int(top['count'])} Maßnahmen).")
    table = pd.DataFrame({
        "Reifegrad": dist["level_de"],
        "Maßnahmen": [fmt.number_de(c) for c in dist["count"]],
        "OZG-Pflicht": ["erfüllt" if m else "nicht erfüllt" for m in dist["ozg_met"]],
    })
    return Panel(title, bars.ozg_levels(dist), summary, table,
                 note="Je Maßnahme zählt der neueste gemeldete Reifegrad.")


RANKING_BARS = 20  # bars a projector can show legibly


def ranking_panel(db: Database, kommune: str | None = None) -> Panel:
    """Nutzwertanalyse: weighted score (0–10) per Maßnahme as ranked bars, with the sensitivity sentence as note."""
    from kpi.metrics.qualitative import ranking_with_sensitivity

    ranking, sens = ranking_with_sensitivity(db, kommune)
    title = "Rangfolge nach Nutzwert"
    done = ranking.dropna(subset=["score"])
    if done.empty:
        summary = "Noch keine vollständig bewertete Maßnahme: Bitte Punkte für alle gewichteten Kriterien eintragen."
    else:
        best, worst = done.iloc[0], done.iloc[-1]
        summary = (f"Den höchsten Nutzwert hat {best['massnahme']} ({best['kommune']}) mit "
                   f"{fmt.number_de(best['score'], 1)} von 10 Punkten, den niedrigsten {worst['massnahme']} "
                   f"({worst['kommune']}) mit {fmt.number_de(worst['score'], 1)} Punkten.")
    table = pd.DataFrame({
        "Rang": ["–" if pd.isna(r) else str(int(r)) for r in ranking["rank"]],
        "Maßnahme": ranking["massnahme"],
        "Kommune": ranking["kommune"],
        "Nutzwert (0–10)": [fmt.number_de(s, 2) for s in ranking["score"]],
        "fehlende Bewertungen": ranking["missing_de"].replace("", "–"),
    })
    note = None
    if len(done) > RANKING_BARS:
        note = f"Die Grafik zeigt die {RANKING_BARS} Maßnahmen mit dem höchsten Nutzwert; alle stehen in der Tabelle."
    return Panel(title, bars.ranking_bars(ranking.head(RANKING_BARS)), summary, table, note=note,
                 extra={"sensitivity": sens.text_de, "holds": sens.holds})


def peer_panel(db: Database, metric: str = "costs_per_inhabitant") -> Panel:
    """Kommunen within their size class: € per inhabitant with median and quartiles of the class."""
    from kpi.metrics.peers import PEER_METRICS, peer_comparison
    from kpi.overview import engine_results  # memoised per data version, shared with other pages

    peers = peer_comparison(db, metric, results=engine_results(db, None))
    label = PEER_METRICS[metric][1]
    title = f"{label} im Vergleich der Größenklasse"
    have = peers.dropna(subset=["value"])
    missing = sorted(set(peers["kommune"]) - set(have["kommune"]))
    if have.empty:
        return Panel(title, bars.peer_chart(have, label=label), "Für den Vergleich fehlen Einwohnerzahlen oder "
                     "Werte.", pd.DataFrame())
    parts = []
    for size, g in have.groupby("size_class", sort=False):
        best = g.sort_values("rank").iloc[0]
        parts.append(f"in der Größenklasse {size} Einwohner liegt der Median bei "
                     f"{fmt.eur_de(g['median'].iloc[0], 2)} je Einwohner (Rang 1: {best['kommune']}, "
                     f"{fmt.eur_de(best['value'], 2)})")
    summary = f"{label}: " + "; ".join(parts) + "."
    table = pd.DataFrame({
        "Kommune": have["kommune"],
        "Größenklasse": have["size_class"],
        "Einwohner": [fmt.number_de(e) for e in have["einwohner"]],
        f"{label} (€ je Einw.)": [fmt.eur_de(v, 2) for v in have["value"]],
        "Median der Klasse": [fmt.eur_de(v, 2) for v in have["median"]],
        "1. Quartil": [fmt.eur_de(v, 2) for v in have["q1"]],
        "3. Quartil": [fmt.eur_de(v, 2) for v in have["q3"]],
        "Rang in der Klasse": [f"{int(r)} von {int(n)}" for r, n in zip(have["rank"], have["n_in_class"],
                                                                         strict=True)],
    })
    note = ("Raute = Kommune, schwarzer Strich = Median, hellblauer Balken = mittlere Hälfte (1. bis 3. Quartil) "
            "der Größenklasse.")
    if missing:
        note += f" Ohne Einwohnerzahl nicht verglichen: {', '.join(missing)}."
    return Panel(title, bars.peer_chart(have, label=label), summary, table, note=note)


def score_matrix(db: Database, kommune: str | None = None) -> pd.DataFrame:
    """Scores as an editable grid: one row per Maßnahme (Kommune, Maßnahme), one column per criterion (0–10 or empty)."""
    from kpi.metrics.qualitative import scores, weights

    crit = list(weights(db)["name"])
    names = db.df(
        "SELECT k.name AS kommune, m.name AS massnahme FROM massnahme m JOIN kommune k USING (kommune_id) "
        "WHERE CAST($kommune AS VARCHAR) IS NULL OR k.name = $kommune ORDER BY 1, 2", {"kommune": kommune})
    sc = scores(db, kommune)
    wide = sc.pivot_table(index=["kommune", "massnahme"], columns="criterion", values="score", aggfunc="first")
    out = names.set_index(["kommune", "massnahme"]).join(wide.reindex(columns=crit), how="left")
    out = out.reindex(columns=crit).reset_index().rename(columns={"kommune": "Kommune", "massnahme": "Maßnahme"})
    return out.astype({c: float for c in crit})


def scores_from_matrix(wide: pd.DataFrame) -> pd.DataFrame:
    """The long form save_scores takes (kommune, massnahme, criterion, score) from an edited grid; empty cells skipped."""
    long = wide.melt(id_vars=["Kommune", "Maßnahme"], var_name="criterion", value_name="score")
    long = long.rename(columns={"Kommune": "kommune", "Maßnahme": "massnahme"})
    return long[long["score"].notna()].reset_index(drop=True)


def weights_total(weights: pd.DataFrame) -> float:
    """Sum of the weights in percent as edited (non-numbers count as 0)."""
    return float(pd.to_numeric(weights["weight_pct"], errors="coerce").fillna(0).sum())
