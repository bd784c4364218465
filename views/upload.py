"""Daten hochladen: template, upload with German report and preview, import profile, history
with rollback, and a small editor for single values."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd
import streamlit as st

from kpi import catalog, editing, fmt, store
from kpi.ingest import pipeline, profiles
from kpi.ingest.layout import header_role
from kpi.ingest.parse import col_letter, fold, parse_period
from views._auth import require_role
from views._shared import cached, data_version, get_db, page_header

log = logging.getLogger(__name__)

TEMPLATE_NAME = "KPI-Cockpit_Vorlage.xlsx"
FILE_TYPES = ["xlsx", "xlsm", "csv", "xls"]
PROFILE_FIELDS = {  # import-profile field → German label (order as shown)
    "kommune": "Kommune",
    "massnahme": "Maßnahme",
    "kpi": "Kennzahl",
    "period": "Zeitraum",
    "value": "Wert",
    "unit": "Einheit",
}
REQUIRED_FIELDS = ("kommune", "kpi", "period", "value")
NONE, FIXED = "(keine Spalte)", "(fester Wert)"
AUTO = "automatisch erkennen"
KOMMUNE_WIDE = "(kommunenweit, keine Maßnahme)"

user = require_role("digitallotse")
db = get_db()
page_header("Daten hochladen", "Kennzahlen aus Excel laden, prüfen, korrigieren und zurücknehmen")

tab_upload, tab_edit, tab_history = st.tabs(
    ["Datei hochladen", "Einzelne Werte korrigieren", "Verlauf & Rücknahme"]
)


# ------------------------------------------------------------------------------ helpers


@st.cache_data(show_spinner=False)
def _template() -> bytes:
    """The Excel template, built once per process (only when someone clicks the button)."""
    from kpi.ingest import template

    return template.template_bytes()


def _analyse(data: bytes, name: str, profile, key: tuple):
    """Analyse the file once per (file, profile); the result lives in the session."""
    cached_result = st.session_state.get("up_result")
    if cached_result and cached_result[0] == key:
        return cached_result[1]
    size = fmt.number_de(len(data) / 1024, 0) + " KB"
    with st.status(f"„{name}“ ({size}) wird geprüft …", expanded=True) as status:
        st.write("1. Prüfen: Ist die Datei sicher und lesbar?")
        st.write("2. Lesen: Blätter, Überschriften und Aufbau erkennen")
        st.write("3. Validieren: jede Zeile gegen den Kennzahlenkatalog prüfen")
        try:
            result = pipeline.analyse(data, name, profile=profile, db=db)
        except Exception as exc:  # guard.UnsafeFileError and anything a broken file provokes
            status.update(label=f"„{fmt.md_escape(name)}“ kann nicht gelesen werden", state="error", expanded=True)
            if type(exc).__name__ != "UnsafeFileError":
                log.exception("analyse failed for %s", name)
            st.error(_refusal_text(exc))
            st.session_state["up_result"] = (key, None)
            return None
        n_warn = len(result.warnings)
        label = (f"„{name}“ geprüft: {len(result.errors)} Fehler, {n_warn} "
                 f"{'Warnung' if n_warn == 1 else 'Warnungen'}"
                 if not result.needs_profile else f"„{name}“: Aufbau nicht erkannt")
        state = "error" if result.has_errors or result.needs_profile else "complete"
        status.update(label=label, state=state, expanded=False)
    st.session_state["up_result"] = (key, result)
    return result


def _refusal_text(exc: Exception) -> str:
    if type(exc).__name__ == "UnsafeFileError" or isinstance(exc, ValueError | KeyError):
        text = exc.args[0] if exc.args else str(exc)
        return f"Die Datei wurde nicht geladen: {text}"
    return ("Die Datei konnte nicht gelesen werden. Bitte prüfen Sie, ob es eine Excel- oder "
            "CSV-Datei ist, und speichern Sie sie gegebenenfalls neu als .xlsx.")


def _show_report(result) -> None:
    """Counts, recognised layout, then every problem in German (errors first)."""
    if result.fatal and not result.n_rows_read:  # unreadable: the reason is all there is to say
        st.error("\n".join(f"- {fmt.md_escape(i.text_de())}" for i in result.errors))
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Zeilen gelesen", fmt.number_de(result.n_rows_read))
    c2.metric("Fehler", fmt.number_de(len(result.errors)))
    c3.metric("Warnungen", fmt.number_de(len(result.warnings)))
    c4.metric("Zeilen mit Fehlern", fmt.number_de(result.n_error_rows))
    if result.layouts:
        st.caption("Erkannter Aufbau: " + "; ".join(result.layouts))
    issues = list(result.errors) + list(result.warnings)
    if not issues:
        st.success("Keine Fehler und keine Warnungen gefunden.")
        return
    if len(issues) <= 8:
        if result.errors:
            st.error("\n".join(f"- {fmt.md_escape(i.text_de())}" for i in result.errors))
        if result.warnings:
            st.warning("\n".join(f"- {fmt.md_escape(i.text_de())}" for i in result.warnings))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "Art": ["Fehler" if i.level == "error" else "Warnung" for i in issues],
                    "Blatt": [i.sheet or "" for i in issues],
                    "Zelle": [i.cell or "" for i in issues],
                    "Meldung": [i.message for i in issues],
                }
            ),
            hide_index=True,
            width="stretch",
            height=min(420, 38 + 35 * len(issues)),
        )
    st.download_button(
        "Prüfbericht herunterladen (Text)",
        result.report_de().encode("utf-8"),
        file_name=f"Pruefbericht_{result.file_name}.txt",
        mime="text/plain",
        key="up_report_dl",
    )


def _sample_table(frame) -> pd.DataFrame:
    """The first rows to be loaded, with German headers and periods."""
    # only the first rows: converting a 500.000-row Arrow table would cost seconds
    df = frame.slice(0, 20).to_pandas() if hasattr(frame, "slice") else frame.head(20)
    return pd.DataFrame(
        {
            "Kommune": df["kommune"].astype("object"),
            "Maßnahme": df["massnahme"].astype("object").where(df["massnahme"].notna(), "(kommunenweit)"),
            "Kennzahl": [catalog.KPI_BY_KEY[k].label if k in catalog.KPI_BY_KEY else k for k in df["kpi"]],
            "Zeitraum": [fmt.period_de(p, g) for p, g in zip(df["period_start"], df["granularity"], strict=True)],
            "Wert": [fmt.number_de(v, 0 if float(v).is_integer() else 2) if pd.notna(v) else "–"
                     for v in df["value"]],
        }
    )


def _show_preview_and_commit(result, file_id: str) -> None:
    """What loading would change, then the commit button (partial only when ticked)."""
    done = st.session_state.get("up_committed")
    if done and done[0] == file_id:
        kind, text = done[1], done[2]
        (st.success if kind == "success" else st.info)(text)
        return
    partial = False
    if result.has_errors:
        st.error(
            f"Die Datei enthält {fmt.number_de(len(result.errors))} Fehler. So wird nichts geladen. "
            "Korrigieren Sie die Datei und laden Sie sie erneut hoch – oder laden Sie nur die "
            "gültigen Zeilen."
        )
        partial = st.checkbox(
            "Nur die gültigen Zeilen laden",
            key="up_partial",
            help="Zeilen mit Fehlern werden übersprungen; alle anderen werden geladen.",
        )
        if not partial:
            return
    counts = pipeline.preview_counts(db, result)
    st.caption("Was sich beim Laden ändert:")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("neu", fmt.number_de(counts.inserted))
    c2.metric("geändert", fmt.number_de(counts.updated + counts.deleted))
    c3.metric("unverändert", fmt.number_de(counts.unchanged))
    c4.metric("neue Kommunen / Maßnahmen", f"{counts.new_kommunen} / {counts.new_massnahmen}")
    measurements = result.payload.measurements
    if measurements is not None and len(measurements) > 0:
        st.caption(f"Die ersten {min(20, len(measurements))} von {fmt.number_de(len(measurements))} Werten:")
        st.dataframe(_sample_table(measurements), hide_index=True, width="stretch")
    if counts.changes == 0 and counts.new_kommunen == 0 and counts.new_massnahmen == 0:
        st.info("Alle Werte dieser Datei sind bereits so gespeichert – beim Laden ändert sich nichts.")
    if st.button("Jetzt laden", type="primary", key="up_commit"):
        try:
            with st.spinner("Wird geladen …"):
                loaded = pipeline.commit(db, result, partial=partial, user=user.name)
        except Exception as exc:  # IngestRefused, a busy database: say so, load nothing
            log.exception("commit failed for %s", result.file_name)
            st.error(_refusal_text(exc) if type(exc).__name__ != "IngestRefused" else str(exc))
            return
        if loaded.upload_id is not None:
            text = (f"Geladen. {loaded.summary_de()} Sie können diesen Upload unter "
                    "„Verlauf & Rücknahme“ zurücknehmen.")
            st.session_state["up_committed"] = (file_id, "success", text)
        elif loaded.duplicate_of is not None:
            st.session_state["up_committed"] = (file_id, "info", loaded.summary_de())
        else:
            st.session_state["up_committed"] = (
                file_id, "info", "Es wurde nichts geändert: alle Werte waren bereits so gespeichert.")
        st.rerun()


@st.cache_data(show_spinner=False, max_entries=8)
def _raw_preview(sha: str, name: str, sheet: str | None, _data: bytes):
    """Sheet names and the first 15 rows of `sheet` (keyed by the file's hash, not its bytes)."""
    return profiles.raw_preview(_data, name, sheet, nrows=15)


def _grid_frame(rows: list[list]) -> pd.DataFrame:
    """Raw cells with Excel column letters as headers and Excel row numbers as index."""
    width = max((len(r) for r in rows), default=0)
    padded = [list(r) + [""] * (width - len(r)) for r in rows]
    df = pd.DataFrame(padded, columns=[col_letter(i) for i in range(width)], dtype="object")
    df.index = range(1, len(df) + 1)
    return df


def _suggest_columns(head: list, letters: list[str]) -> dict[str, str]:
    """Field → column letter for header cells whose text names a field (first match wins)."""
    out: dict[str, str] = {}
    for letter, text in zip(letters, head, strict=False):
        fld = header_role(str(text)) if text not in (None, "") else None
        if fld in PROFILE_FIELDS and fld not in out:
            out[fld] = letter
    return out


def _letter_of(ref: str, head: list, letters: list[str]) -> str | None:
    """The column letter a profile reference names: a header text (as in the header row) or a letter."""
    wanted = fold(ref)
    for letter, text in zip(letters, head, strict=False):
        if text not in (None, "") and fold(str(text)) == wanted:
            return letter
    ref = ref.strip().upper()
    return ref if ref in letters else None


def _guess_header(rows: list[list]) -> int:
    """The first row with at least two filled cells (1-based); 1 if none."""
    for i, r in enumerate(rows, start=1):
        if sum(1 for v in r if v not in (None, "")) >= 2:
            return i
    return 1


def _profile_step(data: bytes, name: str, sha: str, result, initial=None) -> None:
    """Let the user map columns to fields; analyse again with that profile; save it by name.

    `initial` (the profile in use) pre-fills the widgets, so a saved profile can be adjusted.
    """
    if result.needs_profile:
        st.warning(
            "Den Aufbau dieser Datei hat das Programm nicht erkannt. Ordnen Sie die Spalten einmal "
            "selbst zu. Die Zuordnung können Sie als Importprofil speichern und für die Datei des "
            "nächsten Monats wiederverwenden.\n\n"
            + "\n".join(f"- {i.text_de()}" for i in result.errors[:5])
        )
    try:
        first_sheet = initial.sheet if initial is not None else None
        sheets, rows = _raw_preview(sha, name, st.session_state.get("pf_sheet", first_sheet), data)
    except Exception as exc:  # ReadError / UnsafeFileError carry a German message
        st.error(_refusal_text(exc))
        return
    if not sheets:
        st.error("Die Datei enthält kein Tabellenblatt.")
        return
    sheet = st.selectbox("Tabellenblatt", sheets, key="pf_sheet",
                         index=sheets.index(first_sheet) if first_sheet in sheets else 0)
    if not any(str(v).strip() for r in rows for v in r if v is not None):
        st.info(f"Das Blatt „{sheet}“ ist leer. Wählen Sie ein anderes Blatt oder eine andere Datei.")
        return
    st.caption("Die ersten Zeilen des Blatts (Spalten und Zeilen wie in Excel):")
    st.dataframe(_grid_frame(rows), width="stretch")
    header_row = st.number_input(
        "Zeile mit den Spaltenüberschriften (0 = keine Überschriften)",
        min_value=0, max_value=max(1, len(rows)), step=1, key="pf_header",
        value=(initial.header_row if initial is not None and initial.header_row is not None
               and initial.header_row <= max(1, len(rows)) else _guess_header(rows)),
    )
    width = max((len(r) for r in rows), default=0)
    head = rows[header_row - 1] if 0 < header_row <= len(rows) else []
    letters = [col_letter(i) for i in range(width)]

    def column_label(letter: str) -> str:
        if letter in (NONE, FIXED):
            return letter
        i = letters.index(letter)
        text = str(head[i]).strip() if i < len(head) and head[i] not in (None, "") else ""
        return f"Spalte {letter} – {text}" if text else f"Spalte {letter}"

    suggested = _suggest_columns(head, letters)
    preset_where: list[tuple[str, str]] = []
    if initial is not None:  # the profile in use wins over what the headers suggest
        for fld, ref in initial.map.items():
            if (letter := _letter_of(ref, head, letters)) is not None:
                suggested[fld] = letter
        for fld, value in initial.set.items():
            suggested[fld] = FIXED
            st.session_state.setdefault(f"pf_set_{fld}", value)
        preset_where = [(lt, v) for ref, v in initial.where.items()
                        if (lt := _letter_of(ref, head, letters)) is not None][:3]
    for i, (letter, value) in enumerate(preset_where):
        st.session_state.setdefault(f"pf_where_col_{i}", letter)
        st.session_state.setdefault(f"pf_where_val_{i}", value)
    suffix = f"{sheets.index(sheet)}_{header_row}"  # new defaults when sheet or header row change
    mapping: dict[str, str] = {}
    fixed: dict[str, str] = {}
    st.markdown("**Welche Spalte enthält was?** Vorbelegt ist, was an den Überschriften erkannt wurde.")
    cols = st.columns(3)
    for n, (fld, label) in enumerate(PROFILE_FIELDS.items()):
        with cols[n % 3]:
            options = [NONE, FIXED, *letters]
            choice = st.selectbox(label, options, format_func=column_label,
                                  index=options.index(suggested[fld]) if fld in suggested else 0,
                                  key=f"pf_map_{fld}_{suffix}")
            if choice == FIXED:
                if fld == "kpi":
                    keys = [k for k, _, _ in cached(editing.editor_choices)["kpis"]]
                    if st.session_state.get("pf_set_kpi", keys[0]) not in keys:  # e.g. a label from the CLI
                        keys.append(st.session_state["pf_set_kpi"])
                    value = st.selectbox(f"{label}: fester Wert", keys,
                                         format_func=lambda k: f"{catalog.KPI_BY_KEY[k].label}"
                                         if k in catalog.KPI_BY_KEY else k, key=f"pf_set_{fld}")
                else:
                    value = st.text_input(f"{label}: fester Wert", key=f"pf_set_{fld}")
                if value and str(value).strip():
                    fixed[fld] = str(value).strip()
            elif choice != NONE:
                mapping[fld] = choice
    where: dict[str, str] = {}
    filtering = st.session_state.get("pf_where_col_0", NONE) != NONE
    with st.expander("Nur bestimmte Zeilen übernehmen (optional)", expanded=filtering):
        for i in range(3):
            c1, c2 = st.columns(2)
            where_col = c1.selectbox("Spalte", [NONE, *letters], format_func=column_label,
                                     key=f"pf_where_col_{i}")
            where_val = c2.text_input("muss diesen Wert haben (z. B. „Ist“)", key=f"pf_where_val_{i}")
            if where_col != NONE and where_val.strip():
                where[where_col] = where_val.strip()
    missing = [PROFILE_FIELDS[f] for f in REQUIRED_FIELDS if f not in mapping and f not in fixed]
    profile = profiles.ImportProfile(sheet=sheet, header_row=int(header_row), map=mapping, set=fixed,
                                     where=where)
    if st.button("Mit dieser Zuordnung prüfen", type="primary", key="pf_apply"):
        if missing:
            st.error("Bitte ordnen Sie noch zu (Spalte oder fester Wert): " + ", ".join(missing) + ".")
        else:
            st.session_state["up_profile"] = (sha, profile.to_json(), None)
            st.rerun()
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    profile_name = c1.text_input("Zuordnung als Importprofil speichern unter", key="pf_name",
                                 placeholder="z. B. Haushaltsexport Kämmerei")
    if c2.button("Profil speichern", key="pf_save"):
        if missing:
            st.error("Bitte ordnen Sie noch zu (Spalte oder fester Wert): " + ", ".join(missing) + ".")
        elif not profile_name.strip():
            st.error("Bitte geben Sie einen Namen für das Profil ein.")
        else:
            profiles.save_profile(db, profile_name.strip(), profile, user.name)
            st.success(f"Importprofil „{fmt.md_escape(profile_name.strip())}“ gespeichert. Wählen Sie es beim nächsten "
                       "Upload oben unter „Importprofil“ aus.")


# ------------------------------------------------------------------------- 1. upload


with tab_upload:
    st.subheader("1. Vorlage")
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    c1.write("Die Excel-Vorlage enthält eine Anleitung, Blätter für Kommune und Maßnahmen sowie für "
             "jede Kennzahlengruppe – mit Auswahllisten und einer Beispielzeile. Eigene Excel-Dateien "
             "werden aber ebenso angenommen.")
    c2.download_button(
        "Vorlage herunterladen", data=_template, file_name=TEMPLATE_NAME,
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:", key="up_template",
    )

    st.subheader("2. Datei hochladen und prüfen")
    saved_profiles = cached(profiles.list_profiles)
    chosen_profile = AUTO
    if saved_profiles:
        chosen_profile = st.selectbox(
            "Importprofil", [AUTO, *saved_profiles], key="up_profile_pick",
            help="Für Dateien in einem eigenen Aufbau, deren Spalten Sie schon einmal zugeordnet haben.",
        )
    uploaded = st.file_uploader(
        "Excel- oder CSV-Datei (.xlsx, .xlsm, .csv, .xls)", type=FILE_TYPES, key="up_file",
        help="Makros in .xlsm-Dateien werden nie ausgeführt. Geladen wird erst nach Ihrer Bestätigung.",
    )
    if uploaded is None:
        st.caption("Noch keine Datei gewählt. Es wird erst geladen, wenn Sie die Vorschau bestätigt haben.")
    else:
        data = uploaded.getvalue()
        sha = store.sha256_bytes(data)
        if st.session_state.get("pf_for") != sha:
            # another file: forget the previous file's mapping and its "only valid rows" choice
            for k in [k for k in st.session_state if str(k).startswith("pf_")]:
                del st.session_state[k]
            st.session_state.pop("up_partial", None)
            st.session_state["pf_for"] = sha
        built = st.session_state.get("up_profile")
        profile, profile_name = None, None
        if built and built[0] == sha:
            profile = profiles.ImportProfile.from_json(built[1])
        elif chosen_profile != AUTO:
            profile, profile_name = profiles.load_profile(db, chosen_profile), chosen_profile
        key = (sha, uploaded.name, profile.to_json() if profile else None)
        result = _analyse(data, uploaded.name, profile, key)
        if profile is not None:
            st.caption(f"Importprofil {('„' + fmt.md_escape(profile_name) + '“') if profile_name else '(eigene Zuordnung)'}: "
                       + profile.describe_de())
        if result is not None:
            result.profile_name = profile_name
            if not result.needs_profile:
                _show_report(result)
            if profile is not None and profile.where and result.n_rows_read == 0:
                st.info("Hinweis: Es sind Zeilenfilter gesetzt („Nur bestimmte Zeilen übernehmen“). "
                        "Prüfen Sie, ob es Zeilen mit genau diesen Werten gibt – Groß- und "
                        "Kleinschreibung und Leerzeichen zählen mit.")
            manual = (result.needs_profile or (built is not None and built[0] == sha)
                      or st.toggle("Spalten selbst zuordnen (Importprofil)", key="up_manual",
                                   help="Wenn Spalten falsch erkannt wurden oder Sie die Zuordnung als "
                                        "Profil speichern möchten."))
            if manual:
                with st.container(border=True):
                    _profile_step(data, uploaded.name, sha, result, profile)
            if not result.needs_profile and not result.fatal:
                st.subheader("3. Vorschau und Laden")
                _show_preview_and_commit(result, uploaded.file_id)


# ------------------------------------------------------------------ 2. single values


with tab_edit:
    st.write("Hier korrigieren oder ergänzen Sie einzelne Werte direkt im Browser. Jede Speicherung "
             "erscheint im Verlauf wie ein Upload und lässt sich zurücknehmen.")
    if msg := st.session_state.pop("ed_msg", None):
        st.success(msg)
    choices = cached(editing.editor_choices)
    if not choices["kommunen"]:
        st.info("Noch keine Kommune vorhanden. Laden Sie zuerst eine Datei hoch (z. B. die Vorlage).")
    else:
        c1, c2, c3 = st.columns(3)
        kommune = c1.selectbox("Kommune", choices["kommunen"], key="ed_kommune")
        massnahmen = [m for k, m in choices["massnahmen"] if k == kommune]
        massnahme = c2.selectbox("Maßnahme", [*massnahmen, KOMMUNE_WIDE], key="ed_massnahme")
        massnahme = None if massnahme == KOMMUNE_WIDE else massnahme
        counts = cached(editing.value_counts, kommune, massnahme)  # reads cached per data version
        # KPIs with values for this Maßnahme first: those are what one usually corrects
        kpi_keys = sorted((k for k, _, _ in choices["kpis"]), key=lambda k: counts.get(k, 0) == 0)
        labels = {k: f"{label} ({unit})" + (f" – {counts[k]} Werte" if counts.get(k) else "")
                  for k, label, unit in choices["kpis"]}
        kpi_key = c3.selectbox("Kennzahl", kpi_keys, format_func=labels.get, key="ed_kpi")
        series = editing.Series(kommune, massnahme, kpi_key)
        info = cached(editing.kpi_info, kpi_key)
        original = cached(editing.load_series, series)
        range_text = info.range_de()
        st.caption(
            (f"{len(original)} gespeicherte Werte. " if len(original) else "Noch keine Werte. ")
            + "Neue Zeile: unten „+“. Zeitraum z. B. „März 2024“, „1. Quartal 2024“ oder „2024“. "
            + "Wert leeren oder Zeile löschen entfernt den Wert."
            + (f" Zulässig: {range_text}." if range_text else "")
        )
        edited = st.data_editor(
            original,
            num_rows="dynamic",
            hide_index=True,
            width="stretch",
            column_config={
                "Zeitraum": st.column_config.TextColumn("Zeitraum", help="z. B. März 2024"),
                "Wert": st.column_config.NumberColumn(f"Wert ({info.unit})", format="localized"),
                "Bemerkung": st.column_config.TextColumn("Bemerkung"),
            },
            # a new key per series and data version: edits never carry over to other values
            key=f"ed_table_{store.sha256_bytes(series.label_de().encode())[:10]}_{data_version()}",
        )
        # before any edit the table equals the stored one: the plan (its warnings) is cached then
        plan = (cached(editing.plan_unchanged, series, date.today()) if edited.equals(original)
                else editing.plan_edit(series, original, edited, info))
        for e in plan.errors:
            st.error(e)
        for w in plan.warnings:
            st.warning(w)
        if plan.n_rows and not plan.errors:
            st.caption("Beim Speichern: " + plan.summary_de())
        if st.button("Änderungen speichern", type="primary", disabled=not plan.can_save, key="ed_save"):
            counts = editing.save_edit(db, series, plan, user.name)
            st.session_state["ed_msg"] = (
                f"Gespeichert als Upload {counts.upload_id}: {plan.summary_de()} "
                "Zurücknehmen unter „Verlauf & Rücknahme“."
            )
            st.rerun()
        if len(original):
            with st.expander("Verlauf eines Wertes anzeigen"):
                period_text = st.selectbox("Zeitraum", original["Zeitraum"].tolist(), key="ed_hist_period")
                period = parse_period(period_text)
                hist = cached(editing.value_history_table_de, series.kommune, series.massnahme, series.kpi,
                              period[0])
                st.dataframe(hist, hide_index=True, width="stretch")


# ---------------------------------------------------------------- 3. history, rollback


def _clear_pending() -> None:
    st.session_state.pop("rb_pending", None)


@st.dialog("Upload zurücknehmen?", on_dismiss=_clear_pending)
def _confirm_rollback(upload_id: int, label: str) -> None:
    st.write(f"**{fmt.md_escape(label)}**")
    st.write("Die Werte dieses Uploads werden entfernt. Wo ein älterer Upload denselben Wert hatte, "
             "gilt wieder der ältere. Der Upload bleibt im Verlauf als „zurückgenommen“ sichtbar.")
    c1, c2 = st.columns(2)
    if c1.button("Ja, zurücknehmen", type="primary", key="rb_yes"):
        try:
            n = store.rollback(db, upload_id, user=user.name)
            st.session_state["rb_msg"] = ("success", f"Upload {upload_id} zurückgenommen ({n} Werte betroffen).")
        except store.RollbackError as exc:
            st.session_state["rb_msg"] = ("error", str(exc))
        _clear_pending()
        st.rerun()
    if c2.button("Abbrechen", key="rb_no"):
        _clear_pending()
        st.rerun()


with tab_history:
    if msg := st.session_state.pop("rb_msg", None):
        (st.success if msg[0] == "success" else st.error)(msg[1])
    uploads = cached(store.list_uploads)
    if len(uploads) == 0:
        st.info("Noch keine Uploads.")
    else:
        small = st.column_config.NumberColumn(width="small")
        st.dataframe(
            cached(editing.upload_history_de), hide_index=True, width="stretch",
            column_config={c: small for c in ("Nr.", "Zeilen", "neu", "geändert", "unverändert", "Warnungen")},
        )
        active = uploads[uploads["status"] == "active"]
        if len(active):
            labels = {
                int(r.upload_id): f"Nr. {r.upload_id} – {r.file_name} "
                f"({fmt.datetime_de(pd.Timestamp(r.uploaded_at).to_pydatetime())}, {r.uploaded_by})"
                for r in active.itertuples()
            }
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            # keyed by the newest upload, so a new upload is preselected rather than an old choice
            pick = c1.selectbox("Upload zurücknehmen", list(labels), format_func=labels.get,
                                key=f"rb_pick_{max(labels)}")
            if c2.button("Zurücknehmen …", key="rb_ask"):
                st.session_state["rb_pending"] = pick
            pending = st.session_state.get("rb_pending")
            if pending in labels:
                _confirm_rollback(pending, labels[pending])
