"""Qualitative Bewertung (Nutzwertanalyse): welche Maßnahme bringt über das Geld hinaus den größten Nutzen?"""

import streamlit as st

from kpi import auth, fmt
from kpi.charts.panels import ranking_panel, score_matrix, scores_from_matrix, weights_total
from kpi.metrics.qualitative import (
    QualitativeError,
    save_scores,
    save_weights,
    validate_weights,
    weights,
)
from views._auth import current_user
from views._chart_block import panel_block
from views._filters import filter_panel, kommune_or_all
from views._shared import cached, get_db, page_header, require_data

page_header("Qualitative Bewertung",
            "Welche Maßnahme bringt über das Geld hinaus den größten Nutzen (Nutzwertanalyse)?")
require_data()
filters = filter_panel(fields=("kommune",))
kommune = kommune_or_all(filters)
user = current_user()
may_edit = auth.may(user.role, "digitallotse")
MAX_GRID_ROWS = 60

panel = cached(ranking_panel, kommune)
panel_block(panel, key="ranking")
st.markdown(f"**Robustheit:** {panel.extra['sensitivity']}")

st.subheader("Gewichte der Kriterien")
st.caption("Die Gewichte müssen zusammen genau 100 % ergeben."
           + ("" if may_edit else " Ändern können nur Digitallotsinnen, Digitallotsen und die Verwaltung."))
edited_weights = st.data_editor(
    cached(weights), key="weights_editor", hide_index=True, num_rows="dynamic" if may_edit else "fixed",
    disabled=not may_edit, width="stretch",
    column_config={
        "name": st.column_config.TextColumn("Kriterium", required=True),
        "weight_pct": st.column_config.NumberColumn("Gewicht in %", min_value=0, max_value=100, step=0.5,
                                                    format="localized", required=True),
    },
)
errors = validate_weights(edited_weights)
if errors:
    st.error("\n\n".join(errors), icon=":material/error:")
else:
    st.success(f"✔ Summe der Gewichte: {fmt.number_de(weights_total(edited_weights), 1)} %", icon=":material/check_circle:")
if may_edit and st.button("Gewichte speichern", disabled=bool(errors), type="primary"):
    save_weights(get_db(), edited_weights, user.name)
    st.toast("Gewichte gespeichert.")
    st.rerun()

st.subheader("Punkte je Maßnahme (0 bis 10)")
grid = cached(score_matrix, kommune)
if len(grid) > MAX_GRID_ROWS:
    # a grid of hundreds of rows is no form anyone fills in, and it slows every rerun
    st.info(f"{fmt.number_de(len(grid))} Maßnahmen – bitte links eine Kommune wählen, um Punkte einzutragen.")
    st.stop()
criteria = [c for c in grid.columns if c not in ("Kommune", "Maßnahme")]
edited_scores = st.data_editor(
    grid, key="scores_editor", hide_index=True, disabled=not may_edit or ["Kommune", "Maßnahme"], width="stretch",
    column_config={c: st.column_config.NumberColumn(c, min_value=0, max_value=10, step=0.5, format="localized")
                   for c in criteria},
)
if may_edit and st.button("Punkte speichern", type="primary"):
    try:
        n = save_scores(get_db(), scores_from_matrix(edited_scores), user.name)
    except QualitativeError as exc:
        st.error(str(exc))
    else:
        st.toast(f"{fmt.number_de(n)} Bewertungen gespeichert.")
        st.rerun()
