"""One function per user action, shared by the CLI and the GUI.

Every action takes the acting user's :class:`~dxa_app.services.auth.Session` (made only by a
log-in), checks the role against one table (``auth.ROLE_PERMISSIONS``), writes the audit entry
with the user's name and does the work; the faces only collect input and show the result.

Modules
-------
auth
    Log-in, the Session, the role table, ``acting``/``record`` used by every action.
users
    User administration (administrator).
browse, sites, workbench, worklist
    What the screens list: counts, patients, studies, scanners, the study view, the worklist.
importing, receiving, demo
    Import files and folders; the DICOM receiver; the synthetic demo pipeline.
calibration, calibration_views, qc_ack, precision, scoring, uniformity
    QC, fits and steps (approve/retire), QC acknowledgements, precision studies, scores.
vfa
    Hand-entered VFA readings and the ISCD VFA indication.
report_data, reporting, report_verify, pacs
    The report's content, its life (draft, edit, sign, amend), verification, sending to PACS.
centre
    The knowledge-centre exchange (site and centre side).
"""
