"""One accessible chart block: chart, one-sentence summary, data table, PNG/SVG download.

Every chart on every page goes through `chart_block`, so the text alternative (BITV 2.0 /
WCAG 2.1 AA: summary sentence + data as a table) can never be forgotten.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

import altair as alt
import pandas as pd
import streamlit as st

from kpi import fmt

EXPORT_WIDTH = 960  # px; slides are 16:9, the council's template has room for ~1000 px
EXPORT_HEIGHT = 400


def chart_block(
    chart: alt.TopLevelMixin | dict,
    summary: str,
    table: pd.DataFrame | None,
    key: str,
    *,
    file_stem: str | None = None,
    downloads: bool = True,
    title: str | None = None,
    note: str | None = None,
) -> None:
    """Draw chart (Altair chart or Vega-Lite dict), its summary sentence, table expander, PNG/SVG buttons.

    `title` becomes a heading above the chart and the title of the PNG/SVG; `note` a caption below.
    """
    if title:
        st.subheader(title)
    if isinstance(chart, dict):
        st.vega_lite_chart(spec=chart, width="stretch", alt=summary, key=f"{key}_chart")
    else:
        st.altair_chart(chart, width="stretch", alt=summary, key=f"{key}_chart")
    st.markdown(fmt.md_escape(summary))  # summaries carry names from uploads
    if note:
        st.caption(note)
    if table is not None:
        with st.expander("Daten als Tabelle"):
            st.dataframe(table, hide_index=True, width="stretch", key=f"{key}_table")
    if not downloads:
        return
    stem = _file_stem(file_stem or title or key)
    # A callable `data=` defers the slow vl-convert rendering to the click (Streamlit ≥ 1.50);
    # on_click="ignore" keeps the page from rerunning after a download.
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button(
        "Grafik als PNG", data=lambda: _export(chart, "png", title), file_name=f"{stem}.png",
        mime="image/png", key=f"{key}_png", on_click="ignore", icon=":material/image:",
    )
    c2.download_button(
        "Grafik als SVG", data=lambda: _export(chart, "svg", title), file_name=f"{stem}.svg",
        mime="image/svg+xml", key=f"{key}_svg", on_click="ignore", icon=":material/draw:",
    )


def panel_block(panel, key: str | None = None) -> None:
    """Draw a `kpi.charts.panels.Panel` (title, spec, summary, table, note) as a chart block."""
    chart_block(panel.spec, panel.summary, panel.table, key or _file_stem(panel.title),
                title=panel.title, note=panel.note)


def export_spec(chart: alt.TopLevelMixin | dict, title: str | None = None) -> str:
    """The chart's Vega-Lite JSON with a fixed size, white background and title for slides."""
    spec = dict(chart) if isinstance(chart, dict) else chart.to_dict()
    spec = _fixed_size(spec)
    spec["background"] = "white"
    if title and "title" not in spec:
        spec["title"] = {"text": title, "anchor": "start", "fontSize": 18}
    return json.dumps(spec, sort_keys=True, default=str)


def _fixed_size(spec: dict) -> dict:
    """Replace 'container' widths (meaningless outside a page) by the export size."""
    spec = dict(spec)
    if spec.get("width") in (None, "container"):
        if "layer" in spec or "mark" in spec:
            spec["width"] = EXPORT_WIDTH
    if spec.get("height") in (None, "container") and ("layer" in spec or "mark" in spec):
        spec["height"] = EXPORT_HEIGHT
    for part in ("vconcat", "hconcat", "concat"):
        if part in spec:
            spec[part] = [_fixed_size(s) for s in spec[part]]
    return spec


def _export(chart: alt.TopLevelMixin | dict, kind: str, title: str | None = None) -> bytes | str:
    return _render(export_spec(chart, title), kind)


@lru_cache(maxsize=32)
def _render(spec_json: str, kind: str) -> bytes | str:
    """Render a spec to PNG bytes or SVG text; cached by the spec JSON (rendering takes ~0.5 s)."""
    import vl_convert

    if kind == "png":
        return vl_convert.vegalite_to_png(spec_json, scale=2)
    return vl_convert.vegalite_to_svg(spec_json)


def _file_stem(text: str) -> str:
    """A safe file name stem: letters, digits, umlauts, '-' and '_'."""
    stem = re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE).strip("_")
    return stem[:80] or "grafik"
