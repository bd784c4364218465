"""Barrierefreiheit: wie barrierefrei sind die Online-Dienste (BITV 2.0 / WCAG 2.1 AA)?"""

import streamlit as st

from kpi.charts.panels import ACCESSIBILITY_ROWS, accessibility_table, kpi_panels
from views._chart_block import panel_block
from views._filters import filter_panel, kommune_or_all
from views._shared import cached, page_header, require_data

page_header("Barrierefreiheit", "Wie barrierefrei sind unsere Online-Dienste (BITV 2.0 / WCAG 2.1 AA)?")
require_data()
filters = filter_panel(fields=("kommune", "massnahme", "period", "granularity"))

st.subheader("Aktueller Stand je Maßnahme")
table = cached(accessibility_table, kommune_or_all(filters), filters.massnahme)
st.dataframe(table, hide_index=True, width="stretch")
if len(table) == ACCESSIBILITY_ROWS:
    st.caption(f"Gezeigt: die {ACCESSIBILITY_ROWS} Maßnahmen mit dem niedrigsten BITV-Ergebnis. "
               "Alle Werte: Seite „Daten & Export“.")
st.caption("BITV-Test (100-Punkte-Skala des BIK): ab 90 Punkten „gut zugänglich“, ab 95 „sehr gut "
           "zugänglich“. Automatische Tests wie Lighthouse finden nur einen Teil der Barrieren.")
for panel in cached(kpi_panels, filters, ("bitv_score", "wcag_verstoesse", "bitv_pruefschritte_pct",
                                         "lighthouse_a11y")):
    panel_block(panel)
