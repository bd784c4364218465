"""`kpi metrics` on the demo data: JSON with the required keys; --discount-rate changes NPV, not net benefit."""

from __future__ import annotations

import json

import numpy_financial as npf
import pytest

from kpi import cli, demo
from kpi.db import open_database
from kpi.metrics import engine

REQUIRED = ("kommune", "massnahme", "costs_eur", "benefits_eur", "benefits_budget_eur", "net_benefit_eur",
            "roi", "npv_eur", "bcr", "payback_month", "discount_rate", "baseline")


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("metrics_cli") / "demo.duckdb"
    with open_database(path) as db:
        demo.load_demo(db)
    return path


def run_json(capsys, *args) -> list[dict]:
    assert cli.main(["metrics", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_required_keys(demo_path, capsys):
    data = run_json(capsys, "--db", str(demo_path))
    assert len(data) == len(demo.DEMO_MASSNAHMEN)
    for obj in data:
        assert set(REQUIRED) <= set(obj)
        assert obj["discount_rate"] == 0.03
        assert obj["payback_month"] is None or len(obj["payback_month"]) == 7  # 'YYYY-MM'
        assert obj["baseline"]["bearbeitungszeit_min"]["method"] == "vorher"


def test_discount_rate_changes_npv_not_net_benefit(demo_path, capsys):
    base = {(o["kommune"], o["massnahme"]): o for o in run_json(capsys, "--db", str(demo_path))}
    other = run_json(capsys, "--db", str(demo_path), "--discount-rate", "0.08")
    for o in other:
        b = base[(o["kommune"], o["massnahme"])]
        assert o["discount_rate"] == 0.08
        assert o["net_benefit_eur"] == b["net_benefit_eur"]
        assert o["npv_eur"] != b["npv_eur"]


def test_kommune_filter_and_table(demo_path, capsys):
    data = run_json(capsys, "--db", str(demo_path), "--kommune", "Musterhausen")
    assert {o["kommune"] for o in data} == {"Musterhausen"} and len(data) == 2
    assert cli.main(["metrics", "--db", str(demo_path)]) == 0
    out = capsys.readouterr().out
    assert "Kapitalwert" in out and "Kalkulationszinssatz: 3,00" in out


def test_unknown_kommune_and_bad_rate(demo_path, capsys):
    assert cli.main(["metrics", "--db", str(demo_path), "--kommune", "Nirgendwo"]) == 1
    assert "gibt es in der Datenbank nicht" in capsys.readouterr().err
    assert cli.main(["metrics", "--db", str(demo_path), "--discount-rate", "3"]) == 2


def test_demo_figures_are_internally_consistent(demo_path):
    with open_database(demo_path) as db:
        results = engine.compute_all(db)
        series = engine.series_frame(results)
    for r in results:
        net = [y["net_eur"] for y in r.yearly]
        assert r.npv_eur == pytest.approx(npf.npv(r.discount_rate, net))
        assert r.net_benefit_eur == pytest.approx(sum(net))
        s = series[(series["kommune"] == r.kommune) & (series["massnahme"] == r.massnahme)]
        assert s["cum_net_discounted_eur"].iloc[-1] == pytest.approx(r.npv_eur)
        assert s["benefits_eur"].sum() == pytest.approx(r.benefits_eur)
        assert (r.benefits_eur == pytest.approx(r.paper_saving_eur + r.time_saving_eur + r.other_saving_eur))
        assert r.not_computable == []
