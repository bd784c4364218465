"""Vergleich der Kommunen: wo stehen wir im Vergleich zu Kommunen gleicher Größe?"""

import streamlit as st

from kpi.charts.panels import peer_panel
from kpi.metrics.peers import PEER_METRICS
from views._chart_block import panel_block
from views._shared import cached, page_header, require_data

page_header("Vergleich der Kommunen",
            "Wo stehen wir im Vergleich zu Kommunen gleicher Größe – je Einwohner gerechnet?")
require_data()
metric = st.selectbox("Vergleichsgröße", list(PEER_METRICS), format_func=lambda m: PEER_METRICS[m][1],
                      key="peer_metric")
panel_block(cached(peer_panel, metric), key="peers")
st.caption("Verglichen wird nur innerhalb derselben Größenklasse (unter 5.000; 5.000 bis 20.000; "
           "20.000 bis 100.000; über 100.000 Einwohner), über alle Jahre mit Daten.")
