"""Import profiles: validation, JSON round trip, save/load/list in the database."""

from __future__ import annotations

import io

import openpyxl
import pytest

from kpi.ingest.pipeline import analyse
from kpi.ingest.profiles import (
    ImportProfile,
    ProfileError,
    list_profiles,
    load_profile,
    parse_assignments,
    save_profile,
)
from kpi.ingest.template import template_bytes


def test_profile_checks_fields_and_round_trips_json():
    p = ImportProfile(sheet="Daten", header_row=3, map={"value": "Betrag"}, set={"kpi": "fallzahl"},
                      where={"Typ": "Ist"})
    assert ImportProfile.from_json(p.to_json()) == p
    assert p.describe_de() == ("Blatt „Daten“; Kopfzeile 3; Wert = Spalte „Betrag“; Kennzahl = „fallzahl“ (fest); "
                               "nur Zeilen mit Typ = „Ist“")
    with pytest.raises(ProfileError, match="Unbekanntes Feld „farbe“"):
        ImportProfile(map={"farbe": "A"})
    with pytest.raises(ProfileError, match="zugleich zugeordnet und fest gesetzt"):
        ImportProfile(map={"kpi": "A"}, set={"kpi": "fallzahl"})
    with pytest.raises(ProfileError, match="Kopfzeile"):
        ImportProfile(header_row=-1)
    with pytest.raises(ProfileError, match="beschädigt"):
        ImportProfile.from_json("{kaputt")
    assert parse_assignments(["a=b=c", " x = y "], "--map") == {"a": "b=c", "x": "y"}


def test_save_load_list(fresh_db):
    assert list_profiles(fresh_db) == []
    with pytest.raises(ProfileError, match="Es gibt noch keine"):
        load_profile(fresh_db, "hamburg")
    p = ImportProfile(header_row=1, set={"kommune": "Hamburg"})
    save_profile(fresh_db, "hamburg", p, "lotse")
    save_profile(fresh_db, "hamburg", ImportProfile(header_row=2), "lotse")  # replaces
    save_profile(fresh_db, "krefeld", p, "lotse")
    assert list_profiles(fresh_db) == ["hamburg", "krefeld"]
    assert load_profile(fresh_db, "hamburg").header_row == 2
    with pytest.raises(ProfileError, match="Vorhanden: „hamburg“, „krefeld“"):
        load_profile(fresh_db, "wuppertal")
    with pytest.raises(ProfileError):
        save_profile(fresh_db, "  ", p, "lotse")


def test_new_kpi_with_invalid_key_is_reported_not_a_database_error():
    wb = openpyxl.load_workbook(io.BytesIO(template_bytes()))
    wb["Kennzahlen"].append(["Termine Online", "Online-Termine", "Anzahl", "nutzung", "höher ist besser"])
    buf = io.BytesIO()
    wb.save(buf)
    res = analyse(buf.getvalue(), "x.xlsx")
    assert [e.text_de() for e in res.errors] == [
        "Blatt „Kennzahlen“, Zelle A19: „Termine Online“ ist kein gültiger Schlüssel (nur Kleinbuchstaben a–z, "
        "Ziffern und _, z. B. termine_online)"]
