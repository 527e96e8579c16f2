"""Write the demo data set to disk in the formats the importers read (vendor DICOM, generic CSV)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from dxa_app.demo import apex_writers, csv_writers, dicom_writers
from dxa_app.demo.generate import SITES, DemoDataset, generate, write_truth
from dxa_app.domain import PhantomPurpose, ScanType, Side
from dxa_app.progress import CancelToken, Progress, no_progress


def write_demo(
    out: Path,
    seed: int,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[DemoDataset, list[Path]]:
    """Generate the demo data for ``seed`` and write every file under ``out``.

    Layout: ``truth.json``; ``dicom/<site>/<serial>/<study uid>/*.dcm`` for the scanners
    that export DICOM (Hologic SC with XML or ResultsTable analysis data, GE Enhanced SR
    plus CR images); ``csv/`` for the generic-CSV exports (one GE site without DICOM
    export, daily QC, the travelling ESP round, the ESP certificate, VFA readings); and
    ``apex/<serial>/`` for the Hologic Discovery W's daily QC, as its APEX database exported
    table by table with mdb-export.

    Parameters
    ----------
    out : Path
        The output folder (created when missing; files of an earlier run are overwritten).
    seed : int
        Random seed; the same seed writes byte-identical files.
    progress : Progress
        Called per study written.
    cancel : CancelToken, optional
        Checked between studies.

    Returns
    -------
    tuple of (DemoDataset, list of Path)
        The generated data and every file written.
    """
    data = generate(seed)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = [write_truth(data, out / "truth.json")]
    csv_dir = out / "csv"
    csv_dir.mkdir(exist_ok=True)
    vfa_studies = {r.study_uid for r in data.vfa_readings}
    total = sum(len(v) for v in data.studies.values())
    done = 0
    for s in data.scanners:
        records = data.studies[s.key]
        if s.export == "csv":
            files.append(
                csv_writers.write_patient_results(
                    csv_dir / f"patient_results_{s.identity.serial}.csv", SITES[s.site], records
                )
            )
            done += len(records)
            progress(done, total, s.identity.serial)
            continue
        for rec in records:
            if cancel is not None:
                cancel.raise_if_cancelled()
            folder = out / "dicom" / s.site / s.identity.serial / rec.study.study_uid
            folder.mkdir(parents=True, exist_ok=True)
            uid = rec.study.study_uid
            # one StudyTime in every file of the study, as a modality writes it
            first = min((scan.acquired_at for scan in rec.scans), default=None)
            study_time = first.time() if first is not None else None

            def sub(*parts: object, _uid: str = uid) -> str:
                from pydicom.uid import generate_uid

                return str(generate_uid(entropy_srcs=[f"dxa-demo:{seed}", _uid, *map(str, parts)]))

            if s.export in ("hologic_xml", "hologic_text"):
                fmt: Literal["xml", "text"] = "xml" if s.export == "hologic_xml" else "text"
                for n, scan in enumerate(rec.scans, start=1):
                    files.append(
                        dicom_writers.write_hologic_scan(
                            folder / f"{n:02d}_{scan.scan_type}.dcm",
                            s.identity,
                            rec.patient,
                            rec.study,
                            scan,
                            series_uid=sub("series", n),
                            sop_instance_uid=sub("sop", n),
                            analysis_format=fmt,
                            study_time=study_time,
                        )
                    )
                if uid in vfa_studies:
                    files.append(
                        dicom_writers.write_hologic_vfa_image(
                            folder / "09_iva.dcm",
                            s.identity,
                            rec.patient,
                            rec.study,
                            series_uid=sub("series", 9),
                            sop_instance_uid=sub("sop", 9),
                            acquired_at=rec.scans[0].acquired_at + dt.timedelta(minutes=12),
                            study_time=study_time,
                        )
                    )
            else:
                files.append(
                    dicom_writers.write_ge_sr(
                        folder / "00_results_sr.dcm",
                        s.identity,
                        rec.patient,
                        rec.study,
                        rec.scans,
                        series_uid=sub("series", 0),
                        sop_instance_uid=sub("sop", 0),
                        study_time=study_time,
                    )
                )
                for n, scan in enumerate(rec.scans, start=1):
                    if scan.scan_type is ScanType.AP_SPINE:
                        protocol = "AP Spine"
                    else:
                        protocol = "Left Femur" if scan.side is Side.LEFT else "Right Femur"
                    files.append(
                        dicom_writers.write_ge_image(
                            folder / f"{n:02d}_image.dcm",
                            s.identity,
                            rec.patient,
                            rec.study,
                            protocol_name=protocol,
                            series_uid=sub("series", n),
                            sop_instance_uid=sub("sop", n),
                            acquired_at=scan.acquired_at,
                            study_time=study_time,
                        )
                    )
                if uid in vfa_studies:
                    files.append(
                        dicom_writers.write_ge_image(
                            folder / "09_lva.dcm",
                            s.identity,
                            rec.patient,
                            rec.study,
                            protocol_name="LVA",
                            series_uid=sub("series", 9),
                            sop_instance_uid=sub("sop", 9),
                            acquired_at=rec.scans[0].acquired_at + dt.timedelta(minutes=12),
                            study_time=study_time,
                        )
                    )
            done += 1
            progress(done, total, uid)
    files.append(
        csv_writers.write_phantom_certificates(
            csv_dir / "phantom_certificates.csv", data.certificates
        )
    )
    site_of = {s.identity.serial: SITES[s.site] for s in data.scanners}
    for s in data.scanners:
        qc = [
            p
            for p in data.phantom_scans
            if p.purpose is PhantomPurpose.DAILY_QC and p.scanner.serial == s.identity.serial
        ]
        if s.export == "hologic_text":
            # this site's daily QC comes from its APEX database, exported table by table
            folder = out / "apex" / s.identity.serial
            apex_writers.write_apex_folder(folder, scanner=s.identity, studies=(), qc_scans=qc)
            files.extend(sorted(folder.iterdir()))
            continue
        files.append(
            csv_writers.write_phantom_scans(
                csv_dir / f"daily_qc_{s.identity.serial}.csv", SITES[s.site], qc
            )
        )
    esp = [p for p in data.phantom_scans if p.purpose is PhantomPurpose.TRAVELLING]
    files.append(
        csv_writers.write_phantom_scans(
            csv_dir / "travelling_round.csv", lambda sc: site_of[sc.serial], esp
        )
    )
    files.append(csv_writers.write_vfa_readings(csv_dir / "vfa_readings.csv", data.vfa_readings))
    return data, files
