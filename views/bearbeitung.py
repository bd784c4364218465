"""Bearbeitungszeiten & Fallzahlen: werden Anträge seit der Digitalisierung schneller bearbeitet?"""

import streamlit as st

from kpi.charts.panels import kpi_panels
from views._chart_block import panel_block
from views._filters import filter_panel
from views._shared import cached, page_header, require_data

page_header("Bearbeitungszeiten & Fallzahlen",
            "Werden Anträge seit der Digitalisierung schneller bearbeitet – und wie viele sind es?")
require_data()
filters = filter_panel(fields=("kommune", "massnahme", "period", "granularity"))

panels = cached(kpi_panels, filters, ("bearbeitungszeit_min", "fallzahl", "durchlaufzeit_tage"))
for panel in panels:
    panel_block(panel)
st.caption("Ø Bearbeitungs- und Durchlaufzeit sind mit der Fallzahl gewichtete Mittelwerte; "
           "Fallzahlen sind Summen des Zeitraums.")
