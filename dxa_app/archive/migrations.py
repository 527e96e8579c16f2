"""Append-only, named schema migrations of the archive; never edit a migration that has shipped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One named schema change, applied once in a transaction.

    ``rebuilds_tables`` is set by a migration that rebuilds a table other tables refer to
    (create, copy, drop, rename: SQLite's way to change a constraint); foreign keys are then
    off while it runs and checked before its transaction commits.
    """

    name: str
    sql: str
    rebuilds_tables: bool = False


_RAW_TABLES = ("scans", "region_results", "phantom_scans", "phantom_results")


def _immutable(table: str, what: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{what} rows in {table} cannot be updated'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{what} rows in {table} cannot be deleted'); END;
"""


V1_INITIAL = """
CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT ''
);
CREATE TABLE scanners (
    id INTEGER PRIMARY KEY,
    manufacturer TEXT NOT NULL,
    model TEXT NOT NULL,
    serial TEXT NOT NULL,
    software_version TEXT NOT NULL DEFAULT '',
    station_name TEXT NOT NULL DEFAULT '',
    institution_name TEXT NOT NULL DEFAULT '',
    site_id INTEGER REFERENCES sites(id),
    first_seen TEXT NOT NULL,
    UNIQUE (manufacturer, model, serial)
);
CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    id_type TEXT NOT NULL CHECK (id_type IN ('cpr', 'other')),
    identifier TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    birth_date TEXT,
    sex TEXT CHECK (sex IN ('F', 'M', 'O')),
    created_at TEXT NOT NULL,
    UNIQUE (id_type, identifier)
);
CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    study_uid TEXT NOT NULL UNIQUE,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    study_date TEXT NOT NULL,
    accession TEXT NOT NULL DEFAULT '',
    referrer TEXT NOT NULL DEFAULT '',
    indication TEXT NOT NULL DEFAULT '',
    height_cm REAL,
    weight_kg REAL,
    menopausal INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX studies_patient ON studies(patient_id, study_date);
CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    source_key TEXT NOT NULL UNIQUE,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    scan_type TEXT NOT NULL,
    side TEXT CHECK (side IN ('L', 'R')),
    acquired_at TEXT NOT NULL,
    scan_mode TEXT NOT NULL DEFAULT '',
    operator TEXT NOT NULL DEFAULT '',
    software_version TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL
);
CREATE INDEX scans_study ON scans(study_id);
CREATE TABLE region_results (
    id INTEGER PRIMARY KEY,
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    region TEXT NOT NULL,
    bmd_g_cm2 REAL,
    bmc_g REAL,
    area_cm2 REAL,
    vendor_t REAL,
    vendor_z REAL,
    included INTEGER NOT NULL DEFAULT 1 CHECK (included IN (0, 1)),
    UNIQUE (scan_id, region)
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    sop_instance_uid TEXT NOT NULL UNIQUE,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    scan_id INTEGER REFERENCES scans(id),
    sop_class_uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    rows INTEGER,
    columns INTEGER,
    bits_allocated INTEGER,
    file_path TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL
);
CREATE TABLE phantoms (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    serial TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, serial)
);
CREATE TABLE phantom_certified_values (
    id INTEGER PRIMARY KEY,
    phantom_id INTEGER NOT NULL REFERENCES phantoms(id),
    certificate_ref TEXT NOT NULL,
    region TEXT NOT NULL,
    bmd_g_cm2 REAL NOT NULL,
    uncertainty_g_cm2 REAL,
    imported_at TEXT NOT NULL,
    UNIQUE (phantom_id, certificate_ref, region)
);
CREATE TABLE calibration_rounds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('travelling_phantom', 'in_vivo', 'acceptance')),
    phantom_id INTEGER REFERENCES phantoms(id),
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE phantom_scans (
    id INTEGER PRIMARY KEY,
    source_key TEXT NOT NULL UNIQUE,
    phantom_id INTEGER NOT NULL REFERENCES phantoms(id),
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    acquired_at TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('daily_qc', 'travelling', 'acceptance')),
    round_id INTEGER REFERENCES calibration_rounds(id),
    operator TEXT NOT NULL DEFAULT '',
    repositioned INTEGER NOT NULL DEFAULT 1,
    imported_at TEXT NOT NULL
);
CREATE INDEX phantom_scans_scanner ON phantom_scans(scanner_id, purpose, acquired_at);
CREATE TABLE phantom_results (
    id INTEGER PRIMARY KEY,
    phantom_scan_id INTEGER NOT NULL REFERENCES phantom_scans(id),
    region TEXT NOT NULL,
    bmd_g_cm2 REAL NOT NULL,
    bmc_g REAL,
    area_cm2 REAL,
    UNIQUE (phantom_scan_id, region)
);
CREATE TABLE calibration_steps (
    id INTEGER PRIMARY KEY,
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    region TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('drift', 'scanner', 'national')),
    intercept REAL NOT NULL,
    slope REAL NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    status TEXT NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'retired')),
    method TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT '',
    n INTEGER,
    provenance TEXT NOT NULL DEFAULT '{}',
    proposed_at TEXT NOT NULL,
    proposed_by TEXT NOT NULL DEFAULT '',
    approved_at TEXT,
    approved_by TEXT,
    retired_at TEXT
);
CREATE TABLE reference_tables (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('T', 'Z')),
    region TEXT NOT NULL,
    sex TEXT NOT NULL,
    unit_system TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    UNIQUE (name, version, purpose, region, sex)
);
CREATE TABLE precision_studies (
    id INTEGER PRIMARY KEY,
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    region TEXT NOT NULL,
    technologist TEXT NOT NULL DEFAULT '',
    design TEXT NOT NULL,
    started TEXT NOT NULL,
    rms_sd_g_cm2 REAL,
    rms_cv_pct REAL,
    df INTEGER,
    lsc_g_cm2 REAL,
    created_at TEXT NOT NULL
);
CREATE TABLE precision_measurements (
    id INTEGER PRIMARY KEY,
    precision_study_id INTEGER NOT NULL REFERENCES precision_studies(id),
    subject TEXT NOT NULL,
    repeat_no INTEGER NOT NULL,
    bmd_g_cm2 REAL NOT NULL,
    UNIQUE (precision_study_id, subject, repeat_no)
);
CREATE TABLE vfa_readings (
    id INTEGER PRIMARY KEY,
    source_key TEXT NOT NULL UNIQUE,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    reader TEXT NOT NULL DEFAULT '',
    read_at TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE vfa_findings (
    id INTEGER PRIMARY KEY,
    vfa_reading_id INTEGER NOT NULL REFERENCES vfa_readings(id),
    level TEXT NOT NULL,
    grade INTEGER CHECK (grade IS NULL OR grade BETWEEN 0 AND 3),
    morphology TEXT CHECK (morphology IS NULL OR morphology IN ('wedge', 'biconcave', 'crush')),
    not_evaluable_reason TEXT NOT NULL DEFAULT '',
    CHECK (grade IS NOT NULL OR not_evaluable_reason <> ''),
    UNIQUE (vfa_reading_id, level)
);
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    created_at TEXT NOT NULL
);
CREATE TABLE report_versions (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id),
    version_no INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'signed', 'amended')),
    lang TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('A', 'B')),
    content TEXT NOT NULL,
    pdf BLOB,
    pdf_sha256 TEXT,
    supersedes_id INTEGER REFERENCES report_versions(id),
    amend_reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    signed_at TEXT,
    signed_by TEXT,
    UNIQUE (report_id, version_no)
);
CREATE TRIGGER report_versions_signed_no_update BEFORE UPDATE ON report_versions
WHEN OLD.status <> 'draft'
BEGIN SELECT RAISE(ABORT, 'a signed report version cannot be changed; amend it instead'); END;
CREATE TRIGGER report_versions_signed_no_delete BEFORE DELETE ON report_versions
WHEN OLD.status <> 'draft'
BEGIN SELECT RAISE(ABORT, 'a signed report version cannot be deleted'); END;
CREATE TABLE roles (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL
);
INSERT INTO roles (name, description) VALUES
    ('technician', 'DXA technician: imports, QC, VFA entry, precision studies'),
    ('physician', 'Reads and signs reports'),
    ('centre_analyst', 'Knowledge centre: fits and approves calibration steps'),
    ('admin', 'Manages users and settings');
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL REFERENCES roles(name),
    password_hash TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    username TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    entity TEXT NOT NULL DEFAULT '',
    entity_id TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log cannot be changed'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log cannot be changed'); END;
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE import_log (
    id INTEGER PRIMARY KEY,
    batch TEXT NOT NULL,
    at TEXT NOT NULL,
    path TEXT NOT NULL,
    reader TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('imported', 'duplicate', 'skipped', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    rows_added INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX import_log_batch ON import_log(batch);
""" + "".join(_immutable(t, "raw measurement") for t in _RAW_TABLES)


V2_SCORES = """
CREATE TABLE scores (
    id INTEGER PRIMARY KEY,
    region_result_id INTEGER NOT NULL REFERENCES region_results(id),
    study_id INTEGER NOT NULL REFERENCES studies(id),
    region TEXT NOT NULL,
    raw_bmd_g_cm2 REAL NOT NULL,
    harmonised_bmd_g_cm2 REAL NOT NULL,
    chain TEXT NOT NULL DEFAULT '[]',
    chain_intercept REAL NOT NULL,
    chain_slope REAL NOT NULL,
    t_reference TEXT NOT NULL DEFAULT '',
    z_reference TEXT NOT NULL DEFAULT '',
    t_score REAL,
    z_score REAL,
    t_printed TEXT,
    z_printed TEXT,
    age_years REAL,
    computed_at TEXT NOT NULL,
    computed_by TEXT NOT NULL DEFAULT '',
    run TEXT NOT NULL
);
CREATE INDEX scores_study ON scores(study_id, run);
CREATE TABLE diagnoses (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    score_kind TEXT NOT NULL CHECK (score_kind IN ('T', 'Z')),
    category TEXT NOT NULL,
    deciding_region TEXT,
    printed_score TEXT,
    note TEXT NOT NULL DEFAULT '',
    harmonised INTEGER NOT NULL,
    computed_at TEXT NOT NULL,
    run TEXT NOT NULL
);
CREATE INDEX diagnoses_study ON diagnoses(study_id, run);
CREATE TABLE qc_acknowledgements (
    id INTEGER PRIMARY KEY,
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    phantom_scan_id INTEGER REFERENCES phantom_scans(id),
    rule TEXT NOT NULL,
    username TEXT NOT NULL,
    at TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
""" + "".join(_immutable(t, "computed score") for t in ("scores", "diagnoses"))


V3_REPORT_SIGNATURES = """
ALTER TABLE report_versions ADD COLUMN signer_cert TEXT;
ALTER TABLE report_versions ADD COLUMN score_run TEXT;
CREATE UNIQUE INDEX reports_study ON reports(study_id);
"""


V4_CENTRE_EXCHANGE = """
CREATE TABLE centre_sites (
    code TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    registered_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE centre_bundles (
    id INTEGER PRIMARY KEY,
    site_code TEXT NOT NULL REFERENCES centre_sites(code),
    sha256 TEXT NOT NULL UNIQUE,
    schema_version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    imported_by TEXT NOT NULL DEFAULT '',
    counts TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE centre_imported_rows (
    id INTEGER PRIMARY KEY,
    site_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    row_id INTEGER NOT NULL,
    UNIQUE (site_code, kind, key)
);
CREATE TABLE centre_in_vivo_pairs (
    id INTEGER PRIMARY KEY,
    site_code TEXT NOT NULL,
    pair_key TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    age_years INTEGER,
    sex TEXT,
    region TEXT NOT NULL,
    side TEXT,
    scanner_a_id INTEGER NOT NULL REFERENCES scanners(id),
    date_a TEXT NOT NULL,
    bmd_a REAL NOT NULL,
    scanner_b_id INTEGER NOT NULL REFERENCES scanners(id),
    date_b TEXT NOT NULL,
    bmd_b REAL NOT NULL,
    UNIQUE (site_code, pair_key)
);
CREATE INDEX centre_in_vivo_pairs_scanners ON centre_in_vivo_pairs(scanner_a_id, scanner_b_id);
CREATE TABLE centre_vfa_counts (
    id INTEGER PRIMARY KEY,
    site_code TEXT NOT NULL,
    month TEXT NOT NULL,
    studies INTEGER NOT NULL,
    studies_with_vfa INTEGER NOT NULL,
    studies_without_vfa INTEGER NOT NULL,
    grade_0 INTEGER NOT NULL,
    grade_1 INTEGER NOT NULL,
    grade_2 INTEGER NOT NULL,
    grade_3 INTEGER NOT NULL,
    not_evaluable INTEGER NOT NULL,
    as_of TEXT NOT NULL,
    UNIQUE (site_code, month)
);
CREATE TABLE centre_site_steps (
    id INTEGER PRIMARY KEY,
    site_code TEXT NOT NULL,
    site_step_id INTEGER NOT NULL,
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    region TEXT NOT NULL,
    kind TEXT NOT NULL,
    intercept REAL NOT NULL,
    slope REAL NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    status TEXT NOT NULL,
    method TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT '',
    n INTEGER,
    provenance TEXT NOT NULL DEFAULT '{}',
    as_of TEXT NOT NULL,
    UNIQUE (site_code, site_step_id)
);
CREATE TRIGGER centre_bundles_no_update BEFORE UPDATE ON centre_bundles
BEGIN SELECT RAISE(ABORT, 'the bundle log cannot be changed'); END;
CREATE TRIGGER centre_bundles_no_delete BEFORE DELETE ON centre_bundles
BEGIN SELECT RAISE(ABORT, 'the bundle log cannot be changed'); END;
"""


V5_SEAL = """
ALTER TABLE audit_log ADD COLUMN signature TEXT;
ALTER TABLE report_versions ADD COLUMN site_signature TEXT;
ALTER TABLE report_versions ADD COLUMN site_sealed TEXT;
"""


V6_QC_BASELINES = """
CREATE TABLE qc_baselines (
    id INTEGER PRIMARY KEY,
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    starts_at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('on_demand', 'service')),
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX qc_baselines_scanner ON qc_baselines(scanner_id, starts_at);
CREATE TRIGGER qc_baselines_no_update BEFORE UPDATE ON qc_baselines
BEGIN SELECT RAISE(ABORT, 'a QC baseline start cannot be changed; start another'); END;
CREATE TRIGGER qc_baselines_no_delete BEFORE DELETE ON qc_baselines
BEGIN SELECT RAISE(ABORT, 'a QC baseline start cannot be deleted; start another'); END;
"""


V7_DRIFT_RAMPS = """
ALTER TABLE calibration_steps ADD COLUMN per_day REAL NOT NULL DEFAULT 0;
ALTER TABLE calibration_steps ADD COLUMN ramp_end TEXT;
"""


V8_STEP_UNCERTAINTY = """
ALTER TABLE calibration_steps ADD COLUMN var_intercept REAL;
ALTER TABLE calibration_steps ADD COLUMN var_slope REAL;
ALTER TABLE calibration_steps ADD COLUMN cov_intercept_slope REAL;
"""


V9_INSTALLED_REFERENCES = """
ALTER TABLE reference_tables ADD COLUMN valid_from TEXT NOT NULL DEFAULT '1900-01-01';
ALTER TABLE reference_tables ADD COLUMN installed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE reference_tables ADD COLUMN origin TEXT NOT NULL DEFAULT '';
CREATE TRIGGER reference_tables_no_update BEFORE UPDATE ON reference_tables
BEGIN SELECT RAISE(ABORT, 'an installed reference table cannot be changed'); END;
CREATE TRIGGER reference_tables_no_delete BEFORE DELETE ON reference_tables
BEGIN SELECT RAISE(ABORT, 'an installed reference table cannot be deleted'); END;
"""


V10_NATIONAL_SCALE = """
CREATE TABLE national_scales (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    scale TEXT NOT NULL CHECK (scale IN ('reference', 'esp')),
    hip_anchor_serial TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT '',
    set_by TEXT NOT NULL DEFAULT '',
    set_at TEXT NOT NULL
);
CREATE TRIGGER national_scales_no_update BEFORE UPDATE ON national_scales
BEGIN SELECT RAISE(ABORT, 'a national scale version cannot be changed; set a new one'); END;
CREATE TRIGGER national_scales_no_delete BEFORE DELETE ON national_scales
BEGIN SELECT RAISE(ABORT, 'a national scale version cannot be deleted; set a new one'); END;
"""
#: Issue 13 (DICOM side): the image store and the identity exactly as the source sent it.
#: ``images.stored_path`` names the copy in the store beside the archive (``file_path`` stays
#: where the file came from); per image the side, body part, protocol, software version,
#: exposure/dose attributes (JSON list of [keyword, value]) and what became of its analysis
#: data. ``study_identity`` holds, once per study and immutable, the identity as received.
V11_IMAGES_IDENTITY = """
ALTER TABLE images ADD COLUMN stored_path TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN bytes INTEGER;
ALTER TABLE images ADD COLUMN side TEXT CHECK (side IN ('L', 'R'));
ALTER TABLE images ADD COLUMN body_part TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN protocol TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN software_version TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN exposure TEXT NOT NULL DEFAULT '[]';
ALTER TABLE images ADD COLUMN analysis TEXT
    CHECK (analysis IN ('read', 'none', 'not_understood'));
ALTER TABLE images ADD COLUMN analysis_detail TEXT NOT NULL DEFAULT '';
CREATE TABLE study_identity (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL UNIQUE REFERENCES studies(id),
    source TEXT NOT NULL,
    source_key TEXT NOT NULL DEFAULT '',
    patient_id TEXT NOT NULL,
    issuer_of_patient_id TEXT NOT NULL DEFAULT '',
    patient_name TEXT NOT NULL DEFAULT '',
    character_set TEXT NOT NULL DEFAULT '',
    birth_date TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    study_uid TEXT NOT NULL,
    accession TEXT NOT NULL DEFAULT '',
    dicom_study_id TEXT NOT NULL DEFAULT '',
    study_date TEXT NOT NULL DEFAULT '',
    study_time TEXT NOT NULL DEFAULT '',
    referring_physician TEXT NOT NULL DEFAULT '',
    recorded_at TEXT NOT NULL
);
""" + _immutable("study_identity", "received identity")
#: One person per person (issue 13): a patient is found by an identity key, a CPR number
#: nationally, any other identifier only within its scope (the APEX database, the DICOM issuer,
#: the CSV site); the same key with another birth date or sex is a separate patient flagged as
#: a possible duplicate of the first; an administrator's merges and un-merges are rows of their
#: own, never a rewrite of a patient or a study. Existing non-CPR patients get the scope of the
#: source their studies came from (every study from DICOM: ``dicom:``; from the CSV of one site:
#: ``csv:<site>``), else ``legacy`` (an APEX database cannot be told from the rows).
V10_PATIENT_IDENTITY = """
CREATE TABLE patients_v10 (
    id INTEGER PRIMARY KEY,
    id_type TEXT NOT NULL CHECK (id_type IN ('cpr', 'other')),
    identifier TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    birth_date TEXT,
    sex TEXT CHECK (sex IN ('F', 'M', 'O')),
    created_at TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    identity_key TEXT NOT NULL,
    duplicate_of INTEGER REFERENCES patients(id),
    CHECK (duplicate_of IS NULL OR duplicate_of <> id)
);
INSERT INTO patients_v10 (id, id_type, identifier, name, birth_date, sex, created_at, scope,
                          identity_key)
SELECT id, id_type, identifier, name, birth_date, sex, created_at, scope,
       CASE WHEN id_type = 'cpr' THEN 'cpr:' || identifier
            ELSE 'id:' || scope || '|' || identifier END
FROM (
    SELECT p.*,
           CASE WHEN p.id_type = 'cpr' THEN ''
                ELSE coalesce((
                    SELECT CASE WHEN count(DISTINCT src) = 1 THEN max(src) END FROM (
                        SELECT CASE WHEN s.source_key LIKE 'dicom:%' THEN 'dicom:'
                                    WHEN s.source_key LIKE 'csv:%'
                                        THEN 'csv:' || sc.institution_name
                                    ELSE 'legacy' END AS src
                        FROM studies st JOIN scans s ON s.study_id = st.id
                        JOIN scanners sc ON sc.id = st.scanner_id
                        WHERE st.patient_id = p.id
                        UNION ALL
                        SELECT 'dicom:' FROM studies st JOIN images i ON i.study_id = st.id
                        WHERE st.patient_id = p.id
                    )
                ), 'legacy') END AS scope
    FROM patients p
);
DROP TABLE patients;
ALTER TABLE patients_v10 RENAME TO patients;
CREATE INDEX patients_identity ON patients(identity_key);
CREATE UNIQUE INDEX patients_first_of_key ON patients(identity_key) WHERE duplicate_of IS NULL;
CREATE TABLE patient_merges (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    into_patient_id INTEGER NOT NULL REFERENCES patients(id),
    reason TEXT NOT NULL,
    merged_at TEXT NOT NULL,
    merged_by TEXT NOT NULL,
    unmerged_at TEXT,
    unmerged_by TEXT,
    unmerge_reason TEXT NOT NULL DEFAULT '',
    CHECK (patient_id <> into_patient_id)
);
CREATE UNIQUE INDEX patient_merges_active ON patient_merges(patient_id) WHERE unmerged_at IS NULL;
CREATE TRIGGER patient_merges_no_delete BEFORE DELETE ON patient_merges
BEGIN SELECT RAISE(ABORT, 'a patient merge cannot be deleted; un-merge it instead'); END;
CREATE TRIGGER patient_merges_unmerge_once BEFORE UPDATE ON patient_merges
WHEN OLD.unmerged_at IS NOT NULL OR NEW.patient_id IS NOT OLD.patient_id
    OR NEW.into_patient_id IS NOT OLD.into_patient_id OR NEW.reason IS NOT OLD.reason
    OR NEW.merged_at IS NOT OLD.merged_at OR NEW.merged_by IS NOT OLD.merged_by
    OR NEW.unmerged_at IS NULL
BEGIN SELECT RAISE(ABORT, 'a patient merge can only be un-merged, once'); END;
"""


#: What APEX records per scan and beside its BMD (issue 13): height, weight and software
#: version per scan (phantom scans too, for QC), further measurements stored raw (hip
#: structure, body composition, lateral spine; immutable like region results), and the
#: software versions seen on each scanner with when each was first and last seen (a new
#: version on a scanner is the event that QC and calibration watch).
V11_SCAN_DETAILS = """
ALTER TABLE scans ADD COLUMN height_cm REAL;
ALTER TABLE scans ADD COLUMN weight_kg REAL;
ALTER TABLE phantom_scans ADD COLUMN software_version TEXT NOT NULL DEFAULT '';
CREATE TABLE additional_measurements (
    id INTEGER PRIMARY KEY,
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    source_table TEXT NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    value REAL NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    UNIQUE (scan_id, source_table, name)
);
CREATE TABLE scanner_software_versions (
    id INTEGER PRIMARY KEY,
    scanner_id INTEGER NOT NULL REFERENCES scanners(id),
    software_version TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    first_source_key TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (scanner_id, software_version)
);
INSERT INTO scanner_software_versions (scanner_id, software_version, first_seen, last_seen,
                                       first_source_key, recorded_at)
SELECT scanner_id, software_version, min(acquired_at), max(acquired_at), source_key,
       strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')
FROM scans WHERE software_version <> '' GROUP BY scanner_id, software_version;
""" + _immutable("additional_measurements", "raw measurement")


#: Issue 17: the HL7 outbox. One row per signed report version queued for the patient record;
#: the message is built once and kept byte for byte with its control id (MSH-10), so a resend
#: after a failure or a restart sends the same message and the receiver can recognise it.
#: ``next_attempt_at`` is both the back-off and the lease of a delivery in progress; a
#: delivered row is final.
V16_HL7_OUTBOX = """
CREATE TABLE hl7_outbox (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    report_version_id INTEGER NOT NULL UNIQUE REFERENCES report_versions(id),
    control_id TEXT NOT NULL UNIQUE,
    result_status TEXT NOT NULL CHECK (result_status IN ('F', 'C')),
    message TEXT NOT NULL,
    message_sha256 TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT,
    last_error TEXT NOT NULL DEFAULT '',
    ack_code TEXT NOT NULL DEFAULT '',
    ack_text TEXT NOT NULL DEFAULT '',
    delivered_to TEXT NOT NULL DEFAULT '',
    delivered_at TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX hl7_outbox_due ON hl7_outbox(state, next_attempt_at);
CREATE TRIGGER hl7_outbox_message_fixed BEFORE UPDATE ON hl7_outbox
WHEN NEW.message IS NOT OLD.message OR NEW.control_id IS NOT OLD.control_id
    OR NEW.report_version_id IS NOT OLD.report_version_id OR NEW.study_id IS NOT OLD.study_id
BEGIN SELECT RAISE(ABORT, 'an outbox message is sent as it was queued'); END;
CREATE TRIGGER hl7_outbox_delivered_final BEFORE UPDATE ON hl7_outbox
WHEN OLD.state = 'delivered'
BEGIN SELECT RAISE(ABORT, 'a delivered outbox message cannot be changed'); END;
CREATE TRIGGER hl7_outbox_no_delete BEFORE DELETE ON hl7_outbox
BEGIN SELECT RAISE(ABORT, 'outbox messages are kept'); END;
"""
#: Risk factors entered once (issue 17): the questionnaire of a study as versioned rows (a
#: correction is a new version; who and when on every row; an import's key makes re-import a
#: no-op), and FRAX as the external calculator gave it, with its inputs and the calculator's
#: version. Both are immutable.
V17_RISK_FACTORS = (
    """
CREATE TABLE risk_factor_versions (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    version_no INTEGER NOT NULL CHECK (version_no >= 1),
    answers TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('entered', 'import')),
    source_key TEXT UNIQUE,
    entered_by TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    UNIQUE (study_id, version_no)
);
CREATE TABLE frax_results (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    version_no INTEGER NOT NULL CHECK (version_no >= 1),
    major_osteoporotic_pct REAL NOT NULL
        CHECK (major_osteoporotic_pct >= 0 AND major_osteoporotic_pct <= 100),
    hip_pct REAL NOT NULL CHECK (hip_pct >= 0 AND hip_pct <= major_osteoporotic_pct),
    model TEXT NOT NULL,
    calculator_version TEXT NOT NULL CHECK (length(trim(calculator_version)) > 0),
    inputs TEXT NOT NULL DEFAULT '[]',
    risk_factor_version_id INTEGER REFERENCES risk_factor_versions(id),
    entered_by TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    UNIQUE (study_id, version_no)
);
"""
    + _immutable("risk_factor_versions", "risk-factor")
    + _immutable("frax_results", "FRAX")
)
#: Lists at a department's real size (issue 15): the indexes the list queries ask for (studies
#: newest first, patients by name, one patient's history, the score runs of a study) and the
#: worklist's stored pending state. ``studies.has_results`` (the study has measured results) and
#: ``studies.report_signed`` (a version of its report is signed) are kept by triggers when
#: results are stored and reports are signed, and backfilled here; the worklist is then a walk
#: of one index instead of a scan of every study and report.
V15_LIST_INDEXES = """
ALTER TABLE studies ADD COLUMN has_results INTEGER NOT NULL DEFAULT 0;
ALTER TABLE studies ADD COLUMN report_signed INTEGER NOT NULL DEFAULT 0;
UPDATE studies SET has_results = 1 WHERE id IN (
    SELECT s.study_id FROM scans s WHERE EXISTS (
        SELECT 1 FROM region_results rr WHERE rr.scan_id = s.id));
UPDATE studies SET report_signed = 1 WHERE id IN (
    SELECT r.study_id FROM reports r JOIN report_versions v ON v.report_id = r.id
    WHERE v.status <> 'draft');
CREATE TRIGGER region_results_study_has_results AFTER INSERT ON region_results
BEGIN
    UPDATE studies SET has_results = 1
    WHERE id = (SELECT study_id FROM scans WHERE id = NEW.scan_id) AND has_results = 0;
END;
CREATE TRIGGER report_versions_study_signed_insert AFTER INSERT ON report_versions
WHEN NEW.status <> 'draft'
BEGIN
    UPDATE studies SET report_signed = 1
    WHERE id = (SELECT study_id FROM reports WHERE id = NEW.report_id) AND report_signed = 0;
END;
CREATE TRIGGER report_versions_study_signed_update AFTER UPDATE OF status ON report_versions
WHEN NEW.status <> 'draft'
BEGIN
    UPDATE studies SET report_signed = 1
    WHERE id = (SELECT study_id FROM reports WHERE id = NEW.report_id) AND report_signed = 0;
END;
CREATE INDEX studies_date ON studies(study_date, id);
CREATE INDEX studies_worklist ON studies(has_results, report_signed, study_date, id);
CREATE INDEX patients_name ON patients(name COLLATE NOCASE, identifier);
CREATE INDEX patients_identifier ON patients(identifier);
CREATE INDEX patient_merges_into ON patient_merges(into_patient_id) WHERE unmerged_at IS NULL;
CREATE INDEX report_versions_report_status ON report_versions(report_id, status);
"""

#: Re-importing a file already in the archive is found by its SHA-256, not by reading it.
V21_IMAGES_SHA256 = """
CREATE INDEX images_sha256 ON images(sha256);
"""


#: A score run per study, in the order stored (``id``). A run stores score rows only for the
#: regions whose values changed since the study's previous run, and a diagnosis row only when
#: the diagnosis changed (``diagnosis_id`` names the one that applies, new or earlier); the
#: scores of run N are, per region result, the newest row of a run up to N. Runs stored
#: before this migration are complete copies, so they read exactly as before.
V19_SCORE_RUNS_DELTA = """
CREATE TABLE score_runs (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    run TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    computed_by TEXT NOT NULL DEFAULT '',
    diagnosis_id INTEGER REFERENCES diagnoses(id),
    rows_written INTEGER NOT NULL DEFAULT 0
);
INSERT INTO score_runs (study_id, run, computed_at, computed_by, diagnosis_id, rows_written)
SELECT sc.study_id, sc.run, min(sc.computed_at), min(sc.computed_by),
       (SELECT max(d.id) FROM diagnoses d WHERE d.study_id = sc.study_id AND d.run = sc.run),
       count(*)
FROM scores sc GROUP BY sc.study_id, sc.run ORDER BY min(sc.id);
CREATE UNIQUE INDEX score_runs_study_run ON score_runs(study_id, run);
CREATE INDEX score_runs_study ON score_runs(study_id);
""" + _immutable("score_runs", "score run")

#: The worklist's site and scanner filters (the first-day issue): with the scanner after the
#: stored state, counting one scanner's or one site's waiting studies (the status line of a
#: filtered worklist) is a range of one covering index instead of a lookup of every waiting
#: study; the page in date order still walks ``studies_worklist``. (Named ``0020_settings``
#: as assigned to the branch that added the settings dialog and these filters.)
V20_WORKLIST_FILTERS = """
CREATE INDEX studies_worklist_scanner
    ON studies(has_results, report_signed, scanner_id, study_date, id);
"""

#: The name search reads a stored, folded form of each name (an SQL scan of a column, not a
#: Python function called on every patient): filled here, and by a trigger for new patients
#: (``dxa_fold`` is Python's casefold, registered on every connection ``open_archive`` makes).
V22_PATIENT_SEARCH_NAME = """
ALTER TABLE patients ADD COLUMN search_name TEXT;
UPDATE patients SET search_name = ' ' || dxa_fold(replace(replace(name, '^', ' '), '-', ' '));
CREATE TRIGGER patients_search_name AFTER INSERT ON patients WHEN NEW.search_name IS NULL
BEGIN
    UPDATE patients
    SET search_name = ' ' || dxa_fold(replace(replace(NEW.name, '^', ' '), '-', ' '))
    WHERE id = NEW.id;
END;
"""


#: The patient search by index instead of a scan of every patient: each patient's search terms
#: (``dxa_search_terms``, registered on every connection ``open_archive`` makes: ``n`` + each
#: case-folded word of the name, ``i`` + the identifier without its dashes, ``s`` + each later
#: suffix of it) in an index a typed word or number is looked up in as a prefix range. Filled
#: here for existing patients and by a trigger for new ones; the folded name of 0022 is no
#: longer read, so its trigger goes.
V23_PATIENT_TERMS = """
CREATE TABLE patient_terms (
    term TEXT NOT NULL,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    PRIMARY KEY (term, patient_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO patient_terms (term, patient_id)
    SELECT t.value, p.id FROM patients p, json_each(dxa_search_terms(p.name, p.identifier)) t;
DROP TRIGGER IF EXISTS patients_search_name;
CREATE TRIGGER patients_search_terms AFTER INSERT ON patients
BEGIN
    INSERT OR IGNORE INTO patient_terms (term, patient_id)
    SELECT value, NEW.id FROM json_each(dxa_search_terms(NEW.name, NEW.identifier));
END;
"""

#: The index that makes a scanner's QC inputs cheap to read, so the QC status is recomputed
#: only for the scanners whose inputs changed: a scanner's software versions (the baseline
#: restarts of a software change, dxa_app.archive.qc.software_versions) without reading its
#: patient scans.
V18_QC_STATUS_CACHE = """
CREATE INDEX IF NOT EXISTS scans_scanner_software
    ON scans(scanner_id, software_version, acquired_at);
"""


def _scan_types_of(study: str) -> str:
    """SQL for the distinct scan types of the study ``study`` (SQL), sorted and comma-joined."""
    return f"""coalesce((SELECT group_concat(t.scan_type, ',') FROM (
        SELECT DISTINCT x.scan_type FROM scans x WHERE x.study_id = {study}
        ORDER BY x.scan_type) t), '')"""


#: The study list's header sorts at 100,000 studies. A study's scan types (its distinct scan
#: types, sorted, comma-separated) and its number of region results are kept on the study by
#: triggers when scans and results are stored (both raw tables are insert-only), and backfilled
#: here; sorted by them, a page is then a walk of one index instead of counting every study's
#: scans and results. Sorted by site, scanner or serial, the sites and scanners are walked in
#: that order (ties by scanner id), and each scanner's studies by id.
V24_STUDY_LIST_SORTS = f"""
ALTER TABLE studies ADD COLUMN scan_types TEXT NOT NULL DEFAULT '';
ALTER TABLE studies ADD COLUMN n_results INTEGER NOT NULL DEFAULT 0;
UPDATE studies SET
    scan_types = {_scan_types_of("studies.id")},
    n_results = (SELECT count(*) FROM region_results rr JOIN scans x ON x.id = rr.scan_id
                 WHERE x.study_id = studies.id);
CREATE TRIGGER scans_study_scan_types AFTER INSERT ON scans
BEGIN
    UPDATE studies SET scan_types = {_scan_types_of("NEW.study_id")}
    WHERE id = NEW.study_id AND instr(',' || scan_types || ',', ',' || NEW.scan_type || ',') = 0;
END;
CREATE TRIGGER region_results_study_n_results AFTER INSERT ON region_results
BEGIN
    UPDATE studies SET n_results = n_results + 1
    WHERE id = (SELECT study_id FROM scans WHERE id = NEW.scan_id);
END;
CREATE INDEX studies_scan_types ON studies(scan_types, id);
CREATE INDEX studies_n_results ON studies(n_results, id);
CREATE INDEX studies_scanner ON studies(scanner_id, id);
CREATE INDEX scanners_label ON scanners(manufacturer, model);
CREATE INDEX scanners_serial ON scanners(serial);
CREATE INDEX scanners_site ON scanners(site_id);
"""


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_archive_v1", V1_INITIAL),
    Migration("0002_scores", V2_SCORES),
    Migration("0003_report_signatures", V3_REPORT_SIGNATURES),
    Migration("0004_centre_exchange", V4_CENTRE_EXCHANGE),
    Migration("0005_seal", V5_SEAL),
    Migration("0006_qc_baselines", V6_QC_BASELINES),
    Migration("0007_drift_ramps", V7_DRIFT_RAMPS),
    Migration("0008_step_uncertainty", V8_STEP_UNCERTAINTY),
    Migration("0009_installed_references", V9_INSTALLED_REFERENCES),
    Migration("0010_national_scale", V10_NATIONAL_SCALE),
    Migration("0011_images_identity", V11_IMAGES_IDENTITY),
    Migration("0012_patient_identity", V10_PATIENT_IDENTITY, rebuilds_tables=True),
    Migration("0013_apex_scan_details", V11_SCAN_DETAILS),
    Migration("0016_hl7_outbox", V16_HL7_OUTBOX),
    Migration("0017_risk_factors", V17_RISK_FACTORS),
    Migration("0015_list_indexes", V15_LIST_INDEXES),
    Migration("0019_score_runs_delta", V19_SCORE_RUNS_DELTA),
    Migration("0021_images_sha256", V21_IMAGES_SHA256),
    Migration("0020_settings", V20_WORKLIST_FILTERS),
    Migration("0018_qc_status_cache", V18_QC_STATUS_CACHE),
    Migration("0022_patient_search_name", V22_PATIENT_SEARCH_NAME),
    Migration("0023_patient_terms", V23_PATIENT_TERMS),
    Migration("0024_study_list_sorts", V24_STUDY_LIST_SORTS),
)
