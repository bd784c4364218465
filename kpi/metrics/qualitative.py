"""Nutzwertanalyse: criteria weights (sum 100 %), scores 0–10, weighted score, ranking and its sensitivity.

score(Maßnahme) = Σ_k weight_k / 100 × points_k (0–10). A Maßnahme lacking a score for a criterion
with weight > 0 gets no score (listed as incomplete), so a missing entry never counts as 0 points.
Ranking sensitivity rule: the heaviest criterion (first in order on a tie) loses 10 percentage
points; those 10 points go to the other criteria in proportion to their weights.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from kpi.db import Database, audit
from kpi.fmt import number_de

WEIGHT_TOLERANCE = 0.01  # percentage points
SENSITIVITY_POINTS = 10.0


class QualitativeError(ValueError):
    """Invalid weights or scores (German message listing every problem)."""


class RankingSensitivity(NamedTuple):
    """Whether the ranking holds when the heaviest weight drops by 10 points."""

    holds: bool
    text_de: str
    changed: pd.DataFrame  # kommune, massnahme, rank_before, rank_after, score_before, score_after


def weights(db: Database) -> pd.DataFrame:
    """Return the criteria with their weights in percent (columns name, weight_pct), in display order."""
    return db.df("SELECT name, weight_pct FROM criterion ORDER BY sort_order, name")


def validate_weights(df: pd.DataFrame) -> list[str]:
    """Return German errors: empty or duplicate names, weights not numbers or outside 0–100, sum ≠ 100 %."""
    errors = []
    if df is None or len(df) == 0:
        return ["Es ist kein Kriterium angegeben."]
    names = [("" if n is None or (isinstance(n, float) and math.isnan(n)) else str(n).strip())
             for n in df["name"]]
    for i, n in enumerate(names, start=1):
        if not n:
            errors.append(f"Zeile {i}: Der Name des Kriteriums fehlt.")
    dups = sorted({n for n in names if n and names.count(n) > 1})
    for n in dups:
        errors.append(f"Das Kriterium „{n}“ steht mehrfach in der Liste.")
    total = 0.0
    for i, (n, w) in enumerate(zip(names, df["weight_pct"], strict=True), start=1):
        try:
            v = float(w)
        except (TypeError, ValueError):
            errors.append(f"Zeile {i} („{n}“): Das Gewicht „{w}“ ist keine Zahl.")
            continue
        if math.isnan(v):
            errors.append(f"Zeile {i} („{n}“): Das Gewicht fehlt.")
            continue
        if v < 0 or v > 100:
            errors.append(f"Zeile {i} („{n}“): Das Gewicht {number_de(v, 1)} % liegt nicht zwischen 0 und 100 %.")
        total += v
    if not errors and abs(total - 100.0) > WEIGHT_TOLERANCE:
        errors.append(f"Die Gewichte ergeben zusammen {number_de(total, 1)} %, sie müssen genau 100 % ergeben.")
    return errors


def save_weights(db: Database, df: pd.DataFrame, user: str) -> None:
    """Replace the criteria and weights (validated; one transaction, audited). Scores of removed criteria stay stored."""
    errors = validate_weights(df)
    if errors:
        raise QualitativeError(" ".join(errors))
    rows = [(str(n).strip(), float(w), i) for i, (n, w) in enumerate(zip(df["name"], df["weight_pct"],
                                                                           strict=True))]
    with db.transaction() as cur:
        cur.execute("DELETE FROM criterion")
        cur.executemany("INSERT INTO criterion VALUES ($1, $2, $3)", rows)
        audit(cur, user, "weights", "; ".join(f"{n} {number_de(w, 1)} %" for n, w, _ in rows))


def scores(db: Database, kommune: str | None = None) -> pd.DataFrame:
    """Return the stored scores (kommune, massnahme, criterion, score)."""
    return db.df(
        """
        SELECT k.name AS kommune, m.name AS massnahme, s.criterion, s.score
        FROM score s JOIN massnahme m USING (massnahme_id) JOIN kommune k USING (kommune_id)
        WHERE CAST($kommune AS VARCHAR) IS NULL OR k.name = $kommune
        ORDER BY k.name, m.name, s.criterion
        """,
        {"kommune": kommune},
    )


def save_scores(db: Database, df: pd.DataFrame, user: str) -> int:
    """Insert or replace scores (columns kommune, massnahme, criterion, score 0–10); validated, one transaction."""
    errors = []
    crit = set(weights(db)["name"])
    known = {(k, m) for k, m in db.query(
        "SELECT k.name, m.name FROM massnahme m JOIN kommune k USING (kommune_id)")}
    rows = []
    for i, r in enumerate(df.itertuples(index=False), start=1):
        where = f"Zeile {i} ({r.kommune} – {r.massnahme}, {r.criterion})"
        if (r.kommune, r.massnahme) not in known:
            errors.append(f"{where}: Die Maßnahme „{r.massnahme}“ der Kommune „{r.kommune}“ gibt es nicht.")
        if r.criterion not in crit:
            errors.append(f"{where}: Das Kriterium „{r.criterion}“ gibt es nicht.")
        try:
            v = float(r.score)
        except (TypeError, ValueError):
            errors.append(f"{where}: „{r.score}“ ist keine Zahl.")
            continue
        if math.isnan(v) or not (0 <= v <= 10):
            errors.append(f"{where}: Die Punktzahl muss zwischen 0 und 10 liegen (eingegeben: {r.score}).")
            continue
        rows.append((r.kommune, r.massnahme, r.criterion, v))
    if errors:
        raise QualitativeError(" ".join(errors))
    with db.transaction() as cur:
        for k, m, c, v in rows:
            cur.execute(
                """
                INSERT OR REPLACE INTO score
                SELECT m.massnahme_id, $c, $v FROM massnahme m JOIN kommune k USING (kommune_id)
                WHERE k.name = $k AND m.name = $m
                """,
                {"k": k, "m": m, "c": c, "v": v},
            )
        audit(cur, user, "scores", f"{len(rows)} Bewertungen gespeichert")
    return len(rows)


def _ranking(score_df: pd.DataFrame, w: dict[str, float]) -> pd.DataFrame:
    """Weighted score (0–10) and rank (1 = best, ties share the better rank) per Maßnahme."""
    needed = [c for c, v in w.items() if v > 0]
    per: dict[tuple[str, str], dict[str, float]] = {}  # plain lists: a pandas group per Maßnahme is slow at 1.000
    for k, m, c, v in zip(*(score_df[col].tolist() for col in ("kommune", "massnahme", "criterion", "score")),
                          strict=True):
        per.setdefault((k, m), {})[c] = v
    rows = []
    for (k, m), p in sorted(per.items()):
        missing = [c for c in needed if c not in p]
        score = None if missing else sum(w[c] / 100.0 * p[c] for c in needed)
        rows.append({"kommune": k, "massnahme": m, "score": score,
                     "missing_de": ", ".join(missing) if missing else ""})
    df = pd.DataFrame(rows, columns=["kommune", "massnahme", "score", "missing_de"])
    df["score"] = df["score"].astype(float)
    df["rank"] = df["score"].rank(method="min", ascending=False).astype("Int64")
    return df.sort_values(["rank", "kommune", "massnahme"], na_position="last", kind="stable").reset_index(drop=True)


def _weight_map(db: Database) -> dict[str, float]:
    return dict(zip(*[weights(db)[c] for c in ("name", "weight_pct")], strict=True))


def utility_ranking(db: Database, kommune: str | None = None) -> pd.DataFrame:
    """Return kommune, massnahme, score (0–10, None when a weighted criterion lacks a score), rank, missing_de."""
    return _ranking(scores(db, kommune), _weight_map(db))


def shifted_weights(w: dict[str, float], points: float = SENSITIVITY_POINTS) -> tuple[str, dict[str, float]]:
    """Return (heaviest criterion, weights with it reduced by `points`, given to the others proportionally)."""
    heaviest = max(w, key=lambda c: w[c])  # max keeps the first on a tie
    cut = min(points, w[heaviest])
    others = {c: v for c, v in w.items() if c != heaviest}
    rest = sum(others.values())
    out = dict(w)
    out[heaviest] = w[heaviest] - cut
    for c, v in others.items():
        out[c] = v + (cut * v / rest if rest > 0 else cut / len(others))
    return heaviest, out


def ranking_sensitivity(db: Database, kommune: str | None = None) -> RankingSensitivity:
    """Check whether the ranking holds when the heaviest weight drops by 10 points (rule in the module doc)."""
    return ranking_with_sensitivity(db, kommune)[1]


def ranking_with_sensitivity(db: Database, kommune: str | None = None) -> tuple[pd.DataFrame, RankingSensitivity]:
    """utility_ranking and ranking_sensitivity from one read of the weights and scores (and one ranking)."""
    w = _weight_map(db)
    sc = scores(db, kommune)
    ranking = _ranking(sc, w)
    return ranking, _sensitivity(sc, w, ranking)


def _sensitivity(sc: pd.DataFrame, w: dict[str, float], ranking: pd.DataFrame) -> RankingSensitivity:
    """ranking_sensitivity of scores `sc` under weights `w`, whose ranking (_ranking(sc, w)) is given."""
    empty = pd.DataFrame(columns=["kommune", "massnahme", "rank_before", "rank_after", "score_before",
                                  "score_after"])
    if len(w) < 2 or sc.empty:
        return RankingSensitivity(True, "Keine Prüfung möglich: weniger als zwei Kriterien oder keine "
                                  "Bewertungen.", empty)
    heaviest, w2 = shifted_weights(w)
    before = ranking.set_index(["kommune", "massnahme"])
    after = _ranking(sc, w2).set_index(["kommune", "massnahme"])
    both = before[["rank", "score"]].join(
        after[["rank", "score"]].rename(columns={"rank": "rank_after", "score": "score_after"}))
    both = both.rename(columns={"rank": "rank_before", "score": "score_before"})
    changed = both[both["rank_before"].astype("float") != both["rank_after"].astype("float")]
    changed = changed[~(changed["rank_before"].isna() & changed["rank_after"].isna())].reset_index()
    changed = changed[["kommune", "massnahme", "rank_before", "rank_after", "score_before", "score_after"]]
    rule = (f"Prüfregel: Das Gewicht des schwersten Kriteriums „{heaviest}“ sinkt um "
            f"{number_de(min(SENSITIVITY_POINTS, w[heaviest]), 0)} Prozentpunkte "
            f"({number_de(w[heaviest], 1)} % → {number_de(w2[heaviest], 1)} %); die Punkte gehen anteilig "
            "an die übrigen Kriterien.")
    if changed.empty:
        return RankingSensitivity(True, "Die Rangfolge bleibt unverändert. " + rule, changed)
    moved = ", ".join(f"{r.massnahme} ({r.kommune}): Rang {r.rank_before} → {r.rank_after}"
                      for r in changed.itertuples())
    return RankingSensitivity(False, f"Die Rangfolge ändert sich: {moved}. " + rule, changed)
