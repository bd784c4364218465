-- KPI-Cockpit data model (DuckDB). The whole model lives in this file.
-- Units are part of column names; CHECK constraints come first, because DuckDB
-- silently coerces (2024.7 into an INTEGER becomes 2025).

CREATE SEQUENCE IF NOT EXISTS seq_kommune START 1;
CREATE SEQUENCE IF NOT EXISTS seq_massnahme START 1;
CREATE SEQUENCE IF NOT EXISTS seq_upload START 1;
CREATE SEQUENCE IF NOT EXISTS seq_target START 1;
CREATE SEQUENCE IF NOT EXISTS seq_parameter START 1;
CREATE SEQUENCE IF NOT EXISTS seq_audit START 1;

-- One row: the schema version and a counter bumped by every write (cache key).
CREATE TABLE IF NOT EXISTS meta (
    schema_version INTEGER NOT NULL,
    data_version   BIGINT  NOT NULL
);

CREATE TABLE IF NOT EXISTS kommune (
    kommune_id INTEGER PRIMARY KEY DEFAULT nextval('seq_kommune'),
    name       VARCHAR NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    ags        VARCHAR CHECK (ags IS NULL OR regexp_full_match(ags, '[0-9]{8}')),
    einwohner  BIGINT  CHECK (einwohner IS NULL OR einwohner > 0)
);

CREATE TABLE IF NOT EXISTS handlungsfeld (
    name VARCHAR PRIMARY KEY
);

-- laufbahn selects the wage rate for processing-time savings
-- (einfach, mittel, gehoben, hoeher); planned_npv_eur is the WiBe ex-ante figure.
CREATE TABLE IF NOT EXISTS massnahme (
    massnahme_id    INTEGER PRIMARY KEY DEFAULT nextval('seq_massnahme'),
    kommune_id      INTEGER NOT NULL,
    name            VARCHAR NOT NULL CHECK (length(trim(name)) > 0),
    handlungsfeld   VARCHAR,
    start_date      DATE,
    golive_date     DATE,
    laufbahn        VARCHAR NOT NULL DEFAULT 'gehoben'
                    CHECK (laufbahn IN ('einfach', 'mittel', 'gehoben', 'hoeher')),
    planned_npv_eur DOUBLE CHECK (planned_npv_eur IS NULL OR isfinite(planned_npv_eur)),
    UNIQUE (kommune_id, name)
);

-- The KPI catalog (DOMAIN.md §3); users may add entries (builtin = false).
CREATE TABLE IF NOT EXISTS kpi (
    key         VARCHAR PRIMARY KEY CHECK (regexp_full_match(key, '[a-z][a-z0-9_]*')),
    label       VARCHAR NOT NULL,
    unit        VARCHAR NOT NULL,
    family      VARCHAR NOT NULL
                CHECK (family IN ('papier', 'bearbeitung', 'barrierefreiheit', 'kosten', 'nutzung')),
    polarity    VARCHAR NOT NULL CHECK (polarity IN ('higher', 'lower', 'none')),
    aggregation VARCHAR NOT NULL CHECK (aggregation IN ('sum', 'mean', 'wmean_fallzahl', 'last')),
    min_value   DOUBLE,
    max_value   DOUBLE,
    builtin     BOOLEAN NOT NULL DEFAULT false,
    sort_order  INTEGER NOT NULL DEFAULT 999
);

-- One row per load: a file, an edit in the browser, the demo generator, a restore.
CREATE TABLE IF NOT EXISTS upload (
    upload_id   INTEGER PRIMARY KEY DEFAULT nextval('seq_upload'),
    file_name   VARCHAR NOT NULL,
    sha256      VARCHAR,
    uploaded_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    uploaded_by VARCHAR NOT NULL DEFAULT 'unbekannt',
    kind        VARCHAR NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'editor', 'demo', 'parameter')),
    profile     VARCHAR,
    n_rows      INTEGER NOT NULL DEFAULT 0,
    n_inserted  INTEGER NOT NULL DEFAULT 0,
    n_updated   INTEGER NOT NULL DEFAULT 0,
    n_unchanged INTEGER NOT NULL DEFAULT 0,
    n_warnings  INTEGER NOT NULL DEFAULT 0,
    status      VARCHAR NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'rolled_back')),
    rolled_back_at TIMESTAMP,
    rolled_back_by VARCHAR
);

-- Value history: append-only, one row per value an upload set (value NULL = deleted).
-- The current value of a key is the one from the newest active upload.
CREATE TABLE IF NOT EXISTS measurement_history (
    upload_id    INTEGER NOT NULL,
    kommune_id   INTEGER NOT NULL,
    massnahme_id INTEGER,               -- NULL: Kommune-wide value
    kpi          VARCHAR NOT NULL,
    period_start DATE    NOT NULL,
    granularity  VARCHAR NOT NULL CHECK (granularity IN ('month', 'quarter', 'year')),
    value        DOUBLE  CHECK (value IS NULL OR isfinite(value)),
    note         VARCHAR
);

-- Current values, derived from measurement_history for the keys an upload or rollback touches.
CREATE TABLE IF NOT EXISTS measurement (
    kommune_id   INTEGER NOT NULL,
    massnahme_id INTEGER,
    kpi          VARCHAR NOT NULL,
    period_start DATE    NOT NULL,
    granularity  VARCHAR NOT NULL CHECK (granularity IN ('month', 'quarter', 'year')),
    value        DOUBLE  NOT NULL CHECK (isfinite(value)),
    upload_id    INTEGER NOT NULL,
    note         VARCHAR
);

CREATE TABLE IF NOT EXISTS target (
    target_id    INTEGER PRIMARY KEY DEFAULT nextval('seq_target'),
    kommune_id   INTEGER NOT NULL,
    massnahme_id INTEGER,
    kpi          VARCHAR NOT NULL,
    target_value DOUBLE  NOT NULL CHECK (isfinite(target_value)),
    target_date  DATE    NOT NULL,
    start_value  DOUBLE  CHECK (start_value IS NULL OR isfinite(start_value)),
    upload_id    INTEGER
);

-- Explicit baselines (Ausgangswerte) set by the user; used when no pre-go-live data exists.
CREATE TABLE IF NOT EXISTS baseline (
    massnahme_id INTEGER NOT NULL,
    kpi          VARCHAR NOT NULL,
    value        DOUBLE  NOT NULL CHECK (isfinite(value)),
    source       VARCHAR,
    UNIQUE (massnahme_id, kpi)
);

-- Ex-ante plan per Maßnahme and calendar year (WiBe Erfolgskontrolle).
CREATE TABLE IF NOT EXISTS plan (
    massnahme_id INTEGER NOT NULL,
    year         INTEGER NOT NULL CHECK (year BETWEEN 1990 AND 2100),
    costs_eur    DOUBLE  NOT NULL DEFAULT 0 CHECK (isfinite(costs_eur)),
    benefits_eur DOUBLE  NOT NULL DEFAULT 0 CHECK (isfinite(benefits_eur)),
    UNIQUE (massnahme_id, year)
);

-- Dated, versioned calculation parameters. The version in force on a date is the
-- row with the newest valid_from <= date (ties: the newest parameter_id).
CREATE TABLE IF NOT EXISTS parameter (
    parameter_id INTEGER PRIMARY KEY DEFAULT nextval('seq_parameter'),
    key          VARCHAR NOT NULL,
    value        DOUBLE  NOT NULL CHECK (isfinite(value)),
    valid_from   DATE    NOT NULL,
    source       VARCHAR,
    is_example   BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    created_by   VARCHAR NOT NULL DEFAULT 'system'
);

-- Nutzwertanalyse: criteria with weights (percent, sum 100) and scores 0–10.
CREATE TABLE IF NOT EXISTS criterion (
    name       VARCHAR PRIMARY KEY,
    weight_pct DOUBLE NOT NULL CHECK (weight_pct >= 0 AND weight_pct <= 100),
    sort_order INTEGER NOT NULL DEFAULT 999
);

CREATE TABLE IF NOT EXISTS score (
    massnahme_id INTEGER NOT NULL,
    criterion    VARCHAR NOT NULL,
    score        DOUBLE  NOT NULL CHECK (score >= 0 AND score <= 10),
    UNIQUE (massnahme_id, criterion)
);

-- Saved import profiles for files in a foreign layout (JSON spec).
CREATE TABLE IF NOT EXISTS import_profile (
    name       VARCHAR PRIMARY KEY,
    spec_json  VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    created_by VARCHAR
);

-- Who did what and when: uploads, rollbacks, parameter changes, exports, backups.
CREATE TABLE IF NOT EXISTS audit (
    audit_id  INTEGER PRIMARY KEY DEFAULT nextval('seq_audit'),
    at_time   TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    user_name VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,
    detail    VARCHAR
);

-- Readable current values with names; what pages and exports read.
CREATE OR REPLACE VIEW v_measurement AS
SELECT k.name AS kommune, m.name AS massnahme, m.handlungsfeld, c.family, me.kpi,
       c.label AS kpi_label, me.period_start AS period, me.granularity, me.value, c.unit,
       me.upload_id, me.kommune_id, me.massnahme_id, me.note
FROM measurement me
JOIN kommune k USING (kommune_id)
LEFT JOIN massnahme m ON m.massnahme_id = me.massnahme_id
JOIN kpi c ON c.key = me.kpi;
