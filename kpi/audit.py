"""Reading the audit log (who did what, when). Entries are written by kpi.db.audit() inside
the transaction of the action they describe."""

from __future__ import annotations

import pandas as pd

from kpi.db import Database

ACTION_LABEL_DE: dict[str, str] = {
    "upload": "Upload",
    "rollback": "Upload zurückgenommen",
    "parameter": "Parameter geändert",
    "weights": "Gewichte geändert",
    "scores": "Bewertung geändert",
    "export": "Export",
    "report": "Ratsvorlage erstellt",
    "backup": "Sicherung",
    "restore": "Wiederherstellung",
    "login": "Anmeldung",
    "login_failed": "Fehlgeschlagene Anmeldung",
    "logout": "Abmeldung",
}

COLUMNS_DE = {"at_time": "Zeitpunkt", "user_name": "Benutzer", "action_de": "Aktion", "detail": "Details"}


def audit_log(db: Database, limit: int = 200, action: str | None = None) -> pd.DataFrame:
    """Return the newest `limit` entries (optionally of one action), newest first.

    Columns: audit_id, at_time, user_name, action, action_de (German label; unknown actions as is), detail.
    """
    limit = max(1, min(int(limit), 100_000))
    df = db.df(
        """
        SELECT audit_id, at_time, user_name, action, detail FROM audit
        WHERE $action IS NULL OR action = $action
        ORDER BY at_time DESC, audit_id DESC
        LIMIT $limit
        """,
        {"action": action, "limit": limit},
    )
    df.insert(4, "action_de", [ACTION_LABEL_DE.get(a, a) for a in df["action"]])
    return df


def actions(db: Database) -> list[str]:
    """Return the actions that occur in the log, most frequent first (for a filter)."""
    return [r[0] for r in db.query("SELECT action FROM audit GROUP BY action ORDER BY count(*) DESC, action")]


def audit_table_de(df: pd.DataFrame) -> pd.DataFrame:
    """Return the log as shown to people: German column names, date as TT.MM.JJJJ HH:MM:SS."""
    out = df[list(COLUMNS_DE)].rename(columns=COLUMNS_DE)
    out["Zeitpunkt"] = [t.strftime("%d.%m.%Y %H:%M:%S") if pd.notna(t) else "" for t in df["at_time"]]
    return out.reset_index(drop=True)
