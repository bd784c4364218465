"""AppTests for the KPI pages: Bearbeitung, Papier, Barrierefreiheit, Nutzung, Qualitativ, Vergleich; chart block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kpi.charts import panels
from kpi.filters import Filters

ROOT = Path(__file__).parent.parent
APP = str(ROOT / "app.py")
KPI_PAGES = ["views/bearbeitung.py", "views/papier.py", "views/barrierefreiheit.py", "views/nutzung.py",
             "views/qualitativ.py", "views/vergleich.py"]
FILTERED_PAGES = ["views/bearbeitung.py", "views/papier.py", "views/barrierefreiheit.py", "views/nutzung.py"]


# fixtures demo_file, demo_env, empty_env: tests/conftest.py


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets = {"kpi": {"require_login": False}}
    at.run()
    at.switch_page(page)
    at.run()
    return at


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def _dataset_rows(at: AppTest, name: str) -> list[int]:
    """Row counts of a named dataset in each chart (Streamlit ships datasets as Arrow, outside the spec)."""
    import pyarrow as pa

    out = []
    for c in at.get("vega_lite_chart"):
        for d in c.proto.datasets:
            if d.name == name:
                out.append(pa.ipc.open_stream(d.data.data).read_all().num_rows)
    return out


def _texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def _by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


@pytest.mark.parametrize("page", KPI_PAGES)
def test_page_renders_charts_with_summary_and_table(demo_env, page):
    at = _open(page)
    assert not at.exception, at.exception
    assert at.title[0].value  # the page's question heading
    charts = _charts(at)
    assert charts, "no chart drawn"
    assert all(c["config"]["locale"]["number"]["decimal"] == "," for c in charts)
    assert any(t.endswith(".") and len(t) > 40 for t in _texts(at))  # a summary sentence per chart
    assert "Daten als Tabelle" in [e.label for e in at.expander]
    labels = [b.label for b in at.get("download_button")]
    assert "Grafik als PNG" in labels and "Grafik als SVG" in labels


@pytest.mark.parametrize("page", FILTERED_PAGES)
def test_kommune_and_zeitraster_change_the_content(demo_env, page):
    at = _open(page)
    before = _texts(at)
    _by_label(at.multiselect, "Kommune").set_value(["Musterstadt"])
    at.run()
    assert not at.exception, at.exception
    after_kommune = _texts(at)
    assert after_kommune != before
    _by_label(at.radio, "Zeitraster").set_value("year")
    at.run()
    assert not at.exception, at.exception
    assert _texts(at) != after_kommune
    rows = _dataset_rows(at, "series")
    assert rows and all(0 < n <= 5 * 8 for n in rows)  # 5 years × at most 8 lines


def test_single_maßnahme_shows_baseline_and_target(demo_env):
    at = _open("views/bearbeitung.py")
    _by_label(at.multiselect, "Maßnahme").set_value(["E-Akte Bauamt"])
    at.run()
    assert not at.exception
    first = _charts(at)[0]
    names = {layer.get("name") for layer in first["layer"]}
    assert {"baseline_rule", "target_rule", "golive_marks", "lines"} <= names
    assert any("vor der Inbetriebnahme" in t for t in _texts(at))


def test_vergleich_metric_selector_changes_the_summary(demo_env):
    at = _open("views/vergleich.py")
    before = _texts(at)
    _by_label(at.selectbox, "Vergleichsgröße").set_value("benefits_per_inhabitant")
    at.run()
    assert not at.exception
    assert _texts(at) != before and any(t.startswith("Nutzen je Einwohner") for t in _texts(at))


def test_qualitativ_shows_weight_sum_and_sensitivity(demo_env):
    at = _open("views/qualitativ.py")
    assert not at.exception
    assert any("Summe der Gewichte: 100,0" in s.value for s in at.success)
    assert any(t.startswith("**Robustheit:**") for t in _texts(at))
    assert len(at.data_editor) == 2  # weights and scores


@pytest.mark.parametrize("page", KPI_PAGES)
def test_empty_database_shows_start_screen(empty_env, page):
    at = _open(page)
    assert not at.exception, at.exception
    assert any("Noch keine Kennzahlen" in i.value for i in at.info)
    assert not _charts(at)


def test_export_spec_has_fixed_size_title_and_white_background(demo_db):
    from views._chart_block import export_spec

    panel = panels.kpi_panels(demo_db, Filters(), ("fallzahl",))[0]
    spec = json.loads(export_spec(panel.spec, panel.title))
    assert (spec["width"], spec["height"], spec["background"]) == (960, 380, "white")
    assert spec["title"]["text"] == "Fälle (Anträge, Vorgänge)"
    assert panel.spec["width"] == "container"  # the page spec itself is untouched


def test_svg_export_renders_german_axis(demo_db):
    from views._chart_block import _render, export_spec

    f = Filters(massnahme=("E-Akte Bauamt",))
    panel = panels.kpi_panels(demo_db, f, ("papier_kosten_eur",))[0]
    svg = _render(export_spec(panel.spec, panel.title), "svg")
    assert "\u00a0€" in svg and "Jan 2023" in svg and "Ausgangswert" in svg
