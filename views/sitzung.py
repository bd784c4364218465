"""Sitzungsmodus: full-screen slides for the council, one question each, frozen when the meeting starts."""

import streamlit as st

from kpi import fmt, slides
from kpi.filters import filter_options
from views._shared import cached, get_db, page_header, require_data

STATE = "sitzung_snapshot"
INDEX = "sitzung_index"
STATUS_COLOR = {"gruen": "green", "gelb": "orange", "rot": "red", None: "gray"}

# Styling only: no user data ever goes into this HTML.
SLIDE_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stSidebarNav"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; max-width: 100%; }
[data-testid="stMain"] h1 { font-size: 3.2rem !important; line-height: 1.15; }
[data-testid="stMetricValue"] { font-size: clamp(2rem, 3.4vw, 3.6rem) !important; }
[data-testid="stMetricValue"] div { white-space: normal !important; overflow: visible !important; }
[data-testid="stMetricLabel"] p { font-size: 1.6rem !important; }
[data-testid="stMain"] .stMarkdown p, [data-testid="stMain"] .stMarkdown li { font-size: 1.5rem; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { font-size: 1.2rem; }
[data-testid="stMain"] table td, [data-testid="stMain"] table th { font-size: 1.3rem; }
</style>
"""


def start_screen() -> None:
    page_header("Sitzungsmodus", "Die wichtigsten Antworten als Folien – für den Beamer in der Ratssitzung")
    require_data()
    kommunen = cached(filter_options)["kommunen"]
    choice = st.selectbox("Für welche Kommune?", ["alle Kommunen", *kommunen], key="sitzung_kommune")
    st.caption("Die Zahlen werden beim Start festgehalten: ein Upload während der Sitzung ändert die Folien nicht. "
               "Weiter und zurück mit den Pfeiltasten → und ←; F11 schaltet den Browser auf Vollbild.")
    if st.button("Sitzung starten", type="primary", icon=":material/slideshow:", key="sitzung_start"):
        kommune = None if choice == "alle Kommunen" else choice
        # computed fresh, not from the shared cache: the snapshot is this meeting's own copy
        st.session_state[STATE] = slides.take_snapshot(get_db(), kommune)
        st.session_state[INDEX] = 0
        st.rerun()


def figure(box, f: slides.Figure) -> None:
    with box.container(border=True):
        st.metric(f.label, f.value)
        if f.status_text:
            st.badge(f.status_text, color=STATUS_COLOR[f.status])
        if f.note:
            st.caption(f.note)


def show(snapshot: slides.Snapshot) -> None:
    st.markdown(SLIDE_CSS, unsafe_allow_html=True)
    n = len(snapshot.slides)
    i = min(st.session_state.get(INDEX, 0), n - 1)
    slide = snapshot.slides[i]
    st.title(slide.question)
    cols = st.columns(len(slide.figures))
    for box, f in zip(cols, slide.figures, strict=True):
        figure(box, f)
    spec = slide.chart_spec()
    if spec is not None:
        st.vega_lite_chart(spec=spec, width="stretch", alt=slide.summary, key=f"sitzung_chart_{i}")
    st.markdown(fmt.md_escape(slide.summary))
    if slide.table:
        header, *rows = slide.table
        st.table([dict(zip(header, r, strict=True)) for r in rows])
    nav = st.columns([2, 2, 5, 2], vertical_alignment="center")
    if nav[0].button("Zurück", icon=":material/arrow_back:", shortcut="Left", disabled=i == 0,
                     key="sitzung_prev", width="stretch"):
        st.session_state[INDEX] = i - 1
        st.rerun()
    if nav[1].button("Weiter", icon=":material/arrow_forward:", shortcut="Right", disabled=i >= n - 1,
                     key="sitzung_next", width="stretch", type="primary"):
        st.session_state[INDEX] = i + 1
        st.rerun()
    nav[2].markdown(f"**{snapshot.stand}** · {fmt.md_escape(snapshot.scope)} · Folie {i + 1} von {n}")
    if nav[3].button("Sitzung beenden", icon=":material/close:", key="sitzung_exit", width="stretch"):
        del st.session_state[STATE]
        st.session_state.pop(INDEX, None)
        st.rerun()


snapshot = st.session_state.get(STATE)
if snapshot is None or not snapshot.slides:
    if snapshot is not None:
        st.info("Für diese Auswahl gibt es noch keine Daten für Folien.")
        del st.session_state[STATE]
    start_screen()
else:
    show(snapshot)
