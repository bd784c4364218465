"""Überblick: what did digitalization cost, what did it bring, where do we stand — for one Kommune or all."""

import streamlit as st

from kpi import fmt, overview
from kpi.charts import costbenefit
from views._chart_block import chart_block
from views._filters import filter_panel, kommune_or_all
from views._shared import cached, page_header, require_data

STATUS_COLOR = {"gruen": "green", "gelb": "orange", "rot": "red", None: "gray"}

page_header("Überblick", "Lohnt sich unsere Digitalisierung?")
require_data()
filters = filter_panel(fields=("kommune", "period"))
kommune = kommune_or_all(filters)
data, (spec, summary, table) = cached(costbenefit.cockpit_with_chart, kommune, filters.period_from,
                                     filters.period_to)

if len(filters.kommune) > 1:
    st.caption("Mehrere Kommunen gewählt: die Kacheln zeigen alle Kommunen zusammen.")
st.markdown(f"**{fmt.md_escape(data.scope)}** · Werte bis {fmt.month_de(data.as_of)}")


def tile(box, t: overview.Tile) -> None:
    """One big figure with its change, sparkline, status (symbol + word) and rule (help text)."""
    with box.container(border=True):
        if t.delta is None or t.delta == 0:
            arrow, color = "off", "gray"
        else:
            up = t.delta > 0
            good = up if t.delta_good == "normal" else not up
            arrow, color = ("up" if up else "down"), ("green" if good else "red")
        st.metric(t.label, t.value_text, delta=t.delta_text, delta_color=color, delta_arrow=arrow,
                  delta_description=t.delta_desc if t.delta_text else None,
                  help=f"Ampel: {t.rule_de}", chart_data=t.sparkline or None, chart_type="line")
        st.badge(t.status_text, color=STATUS_COLOR[t.status])
        if t.note_de:
            st.caption(t.note_de)


for row in (data.tiles[:3], data.tiles[3:]):
    cols = st.columns(3)
    for box, t in zip(cols, row, strict=False):
        tile(box, t)

chart_block(spec, summary, table, "ueberblick_kosten_nutzen",
            title="Kosten und Nutzen über die Zeit",
            note=f"Kumuliert seit Beginn der Aufzeichnung, nicht abgezinst; die Gewinnschwelle ist der Monat, "
                 f"ab dem der Nutzen die Kosten deckt. Amortisation in der Kachel: abgezinst mit "
                 f"{fmt.pct_de(data.discount_rate, 1)}.")

st.subheader("Maßnahmen")
table = data.massnahmen_text
money_help = "Bis zum gewählten Monat, nicht abgezinst"
st.dataframe(
    table, hide_index=True, width="stretch", key="ueberblick_massnahmen",
    column_config={
        "Kommune": st.column_config.TextColumn("Kommune", width="medium"),
        "Maßnahme": st.column_config.TextColumn("Maßnahme", width="medium"),
        "Kosten bisher": st.column_config.TextColumn(alignment="right", help=money_help),
        "Nutzen bisher": st.column_config.TextColumn(alignment="right", help=money_help),
        "Nettonutzen bisher": st.column_config.TextColumn(alignment="right", help="Nutzen − Kosten"),
        "Kapitalwert": st.column_config.TextColumn(
            alignment="right", help=f"Über alle Jahre mit Daten, Zinssatz {fmt.pct_de(data.discount_rate, 1)}"),
        "Status": st.column_config.TextColumn(help="✔ amortisiert · ▲ noch nicht, aber Überschuss in den "
                                                   "letzten 12 Monaten · ✖ noch nicht und kein Überschuss"),
        "Hinweis": st.column_config.TextColumn(help="Warum ein Wert nicht berechenbar ist"),
    },
)

if not data.massnahmen.empty:
    choices = list(zip(data.massnahmen["Kommune"], data.massnahmen["Maßnahme"], strict=True))
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    pick = c1.selectbox("Maßnahme im Detail ansehen", choices, format_func=lambda km: f"{km[1]} ({km[0]})",
                        key="ueberblick_drill")
    c2.page_link("views/massnahme.py", label="Zur Maßnahme", icon=":material/arrow_forward:",
                 query_params={**filters.to_query_params(), "kommune": pick[0], "massnahme": pick[1]})
