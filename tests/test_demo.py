"""The demo data: what the README promises a newcomer sees."""

from kpi import demo


def test_demo_has_several_size_classes_and_golives_inside_the_data(fresh_db):
    demo.load_demo(fresh_db)
    (n_kommunen, n_massnahmen) = fresh_db.query(
        "SELECT (SELECT count(*) FROM kommune), (SELECT count(*) FROM massnahme)")[0]
    assert n_kommunen >= 2 and n_massnahmen >= 5
    first, last = fresh_db.query("SELECT min(period_start), max(period_start) FROM measurement")[0]
    assert (last.year - first.year) >= 3
    outside = fresh_db.query(
        "SELECT count(*) FROM massnahme WHERE golive_date <= $f OR golive_date >= $l",
        {"f": first, "l": last})[0][0]
    assert outside == 0
    families = {r[0] for r in fresh_db.query("SELECT DISTINCT family FROM v_measurement")}
    assert families == {"papier", "bearbeitung", "barrierefreiheit", "kosten", "nutzung"}


def test_demo_is_reproducible(fresh_db):
    a = demo.demo_payload().measurements
    b = demo.demo_payload().measurements
    assert a.equals(b)
