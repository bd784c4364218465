"""Bar charts: OZG maturity levels, Nutzwert ranking, peer comparison within size classes.

Each builder takes a DataFrame and returns a Vega-Lite dict with `base.german`'s config (spec.py).
Categories are written on the bars as text, so nothing depends on colour alone.
"""

from __future__ import annotations

import pandas as pd

from kpi import fmt
from kpi.charts import spec
from kpi.charts.base import BENEFIT_COLOR, COST_COLOR, MUTED, NET_COLOR, TARGET_COLOR


def ozg_levels(dist: pd.DataFrame, *, height: int = 260) -> dict:
    """Horizontal bars: number of Maßnahmen per OZG maturity level (model 1.1), OZG duty met marked in words.

    dist: columns level, level_de, count, ozg_met (ozg_distribution of one model).
    """
    frame = dist[["level", "level_de", "count", "ozg_met"]].copy()
    frame["pflicht"] = frame["ozg_met"].map({True: "OZG-Pflicht erfüllt", False: "OZG-Pflicht nicht erfüllt"})
    frame["label"] = [f"{c} ({p})" if c else "0" for c, p in zip(frame["count"], frame["pflicht"], strict=True)]
    order = list(frame.sort_values("level")["level_de"])
    bars = {
        "name": "bars", "data": {"name": "levels"},
        "mark": {"type": "bar", "height": {"band": 0.7}},
        "encoding": {
            "y": {"field": "level_de", "type": "nominal", "sort": order, "title": "Reifegrad",
                  "axis": {"labelLimit": 320, "labelFontSize": 14}},
            "x": {"field": "count", "type": "quantitative", "title": "Anzahl Maßnahmen",
                  "axis": {"format": ",.0f", "tickMinStep": 1}},
            "color": {"field": "pflicht", "type": "nominal", "title": None,
                      "scale": {"domain": ["OZG-Pflicht erfüllt", "OZG-Pflicht nicht erfüllt"],
                                "range": [NET_COLOR, MUTED]},
                      "legend": {"orient": "bottom"}},
            "tooltip": [{"field": "level_de", "type": "nominal", "title": "Reifegrad"},
                        {"field": "count", "type": "quantitative", "title": "Maßnahmen", "format": ",.0f"},
                        {"field": "pflicht", "type": "nominal", "title": "OZG"}],
        },
    }
    labels = {"name": "bar_labels", "data": {"name": "levels"},
              "mark": {"type": "text", "align": "left", "dx": 6, "fontSize": 14, "color": "#1a1a1a"},
              "encoding": {"y": {"field": "level_de", "type": "nominal", "sort": order},
                           "x": {"field": "count", "type": "quantitative"},
                           "text": {"field": "label"}}}
    return spec.top_level([bars, labels], {"levels": spec.records(frame)}, height=height)


def ranking_bars(ranking: pd.DataFrame, *, height: int | None = None) -> dict:
    """Horizontal bars of the Nutzwert (0–10) per Maßnahme, best on top, rank and score written on the bar.

    ranking: columns kommune, massnahme, score (None = incomplete), rank.
    """
    frame = ranking.dropna(subset=["score"]).copy()
    frame["name"] = frame["massnahme"] + " (" + frame["kommune"] + ")"
    frame["text"] = [f"Rang {int(r)}: {fmt.number_de(s, 1)}" for r, s in zip(frame["rank"], frame["score"],
                                                                               strict=True)]
    frame["score_de"] = [fmt.number_de(s, 2) for s in frame["score"]]
    order = list(frame.sort_values(["rank", "name"])["name"])
    y = {"field": "name", "type": "nominal", "sort": order, "title": None,
         "axis": {"labelLimit": 360, "labelFontSize": 14}}
    bars = {"name": "bars", "data": {"name": "ranking"},
            "mark": {"type": "bar", "color": BENEFIT_COLOR, "height": {"band": 0.7}},
            "encoding": {"y": y, "x": {"field": "score", "type": "quantitative", "title": "Nutzwert (0–10 Punkte)",
                                       "scale": {"domain": [0, 10]},
                                       "axis": {"format": ",.0f", "values": list(range(0, 11))}},
                         "tooltip": [{"field": "name", "type": "nominal", "title": "Maßnahme"},
                                     {"field": "score", "type": "quantitative", "title": "Nutzwert",
                                      "format": ",.2f"},
                                     {"field": "rank", "type": "quantitative", "title": "Rang"}]}}
    labels = {"name": "bar_labels", "data": {"name": "ranking"},
              "mark": {"type": "text", "align": "left", "dx": 6, "fontSize": 14, "color": "#1a1a1a"},
              "encoding": {"y": y, "x": {"field": "score", "type": "quantitative"}, "text": {"field": "text"}}}
    return spec.top_level([bars, labels], {"ranking": spec.records(frame)},
                          height=height or max(120, 36 * len(frame)))


def peer_chart(peers: pd.DataFrame, *, label: str, height: int | None = None) -> dict:
    """Per size class: quartile band (q1–q3), median rule and one dot per Kommune (€ per inhabitant).

    peers: columns kommune, size_class, value, median, q1, q3, rank, n_in_class (peer_comparison).
    Kommunen without a value (no population) are left out.
    """
    frame = peers.dropna(subset=["value"]).copy()
    frame["value_de"] = [fmt.eur_de(v, 2) for v in frame["value"]]
    frame["median_de"] = [fmt.eur_de(v, 2) for v in frame["median"]]
    frame["name"] = frame["kommune"] + " (" + frame["size_class"] + " Einw.)"
    order = list(frame["name"])
    y = {"field": "name", "type": "nominal", "sort": order, "title": None,
         "axis": {"labelLimit": 360, "labelFontSize": 14}}
    x_title = f"{label} (€ je Einwohner)"
    tip = [{"field": "kommune", "type": "nominal", "title": "Kommune"},
           {"field": "size_class", "type": "nominal", "title": "Größenklasse (Einwohner)"},
           {"field": "value", "type": "quantitative", "title": x_title, "format": "$,.2f"},
           {"field": "median", "type": "quantitative", "title": "Median der Größenklasse", "format": "$,.2f"},
           {"field": "rank", "type": "quantitative", "title": "Rang in der Größenklasse"}]
    quartile_band = {"name": "quartile_band", "data": {"name": "peers"},
                     "mark": {"type": "bar", "color": "#cfe3f1", "height": {"band": 0.6}},
                     "encoding": {"y": y, "x": {"field": "q1", "type": "quantitative", "title": x_title,
                                                "axis": {"format": "$,.0f"}},
                                  "x2": {"field": "q3"}, "tooltip": tip}}
    median_rule = {"name": "median_rule", "data": {"name": "peers"},
                   "mark": {"type": "tick", "color": TARGET_COLOR, "thickness": 3, "size": 28},
                   "encoding": {"y": y, "x": {"field": "median", "type": "quantitative"}, "tooltip": tip}}
    dots = {"name": "dots", "data": {"name": "peers"},
            "mark": {"type": "point", "filled": True, "size": 160, "color": COST_COLOR, "shape": "diamond"},
            "encoding": {"y": y, "x": {"field": "value", "type": "quantitative"}, "tooltip": tip}}
    labels = {"name": "dot_labels", "data": {"name": "peers"},
              "mark": {"type": "text", "align": "left", "dx": 12, "dy": -12, "fontSize": 14, "color": "#1a1a1a"},
              "encoding": {"y": y, "x": {"field": "value", "type": "quantitative"},
                           "text": {"field": "value_de"}}}
    return spec.top_level([quartile_band, median_rule, dots, labels], {"peers": spec.records(frame)},
                          height=height or max(180, 72 * len(frame)))
