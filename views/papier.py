"""Papier & Porto: wie viel Papier, Druck und Porto spart die Digitalisierung?"""

import streamlit as st

from kpi.charts.panels import kpi_panels
from views._chart_block import panel_block
from views._filters import filter_panel
from views._shared import cached, page_header, require_data

page_header("Papier & Porto", "Wie viel Papier, Druck und Porto spart die Digitalisierung?")
require_data()
filters = filter_panel(fields=("kommune", "massnahme", "period", "granularity"))

for panel in cached(kpi_panels, filters, ("papier_kosten_eur", "papier_seiten")):
    panel_block(panel)
st.caption("Summen je Zeitraum. Papier-, Druck-, Porto- und Archivkosten sparen Haushaltsmittel "
           "(haushaltswirksam); die Kosten je Seite sind ein Parameter (Seite „Parameter“).")
