"""Read-only queries over the archive that return domain summaries for the CLI and GUI."""

from __future__ import annotations

from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.db import compact_identifier, name_words, parse_date, register_search_functions
from dxa_app.archive.patients import PERSON_CTE, person_members, person_of
from dxa_app.domain import ArchiveCounts, PatientSummary, Sex, StudySummary


def counts(db: Database) -> ArchiveCounts:
    """Return how many sites, scanners, patients, studies, scans and phantom scans are stored."""

    def n(table: str) -> int:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    return ArchiveCounts(
        sites=n("sites"),
        scanners=n("scanners"),
        patients=n("patients"),
        studies=n("studies"),
        scans=n("scans"),
        region_results=n("region_results"),
        phantom_scans=n("phantom_scans"),
        vfa_readings=n("vfa_readings"),
        images=n("images"),
    )


#: What the patient list can be sorted by: a key and the SQL it orders by.
PATIENT_SORTS: dict[str, str | tuple[str, ...]] = {
    "identifier": "p.identifier",
    "name": ("p.name COLLATE NOCASE", "p.identifier"),
    "birth_date": "p.birth_date",
    "sex": "p.sex",
    "n_studies": "n_studies",
    "last_study": "last_study",
}
#: Patient sorts that need every person's studies counted first (no index can give them).
_AGGREGATE_SORTS = frozenset({"n_studies", "last_study"})

#: What the study list can be sorted by.
STUDY_SORTS: dict[str, str | tuple[str, ...]] = {
    "date": "st.study_date",
    "patient_identifier": "p.identifier",
    "patient_name": ("p.name COLLATE NOCASE", "p.identifier", "p.id"),
    # not the alias (a page is chosen before the columns); a scanner's studies together
    "site": ("coalesce(si.code, '')", "sc.id"),
    # a scanner's studies together, in the scanners' index (migration 0024)
    "scanner": ("sc.manufacturer", "sc.model", "sc.id"),
    "serial": ("sc.serial", "sc.id"),
    "scan_types": "st.scan_types",  # kept on the study (migration 0024)
    "n_results": "st.n_results",
}

#: What the physician's worklist can be sorted by.
WORKLIST_SORTS: dict[str, str | tuple[str, ...]] = {
    "date": "st.study_date",
    "patient_identifier": "p.identifier",
    "patient_name": "p.name COLLATE NOCASE",
    "site": ("coalesce(si.code, '')", "sc.id"),
    "scanner": ("sc.manufacturer", "sc.model", "sc.id"),
    "serial": ("sc.serial", "sc.id"),
    "status": "status",
    "study": "st.id",
}


def _order(sorts: dict[str, str | tuple[str, ...]], key: str, descending: bool, tie: str) -> str:
    """Return an ORDER BY clause for a sort key, with a unique tie-breaker in the same direction."""
    if key not in sorts:
        raise ValueError(f"cannot sort by {key!r}; known: {', '.join(sorts)}")
    terms = sorts[key]
    way = " DESC" if descending else ""
    columns = (terms,) if isinstance(terms, str) else terms
    return "ORDER BY " + ", ".join(f"{t}{way}" for t in (*columns, tie))


#: A study's patient, scanner and site (the study as ``st``).
_JOINS = """
    JOIN patients p ON p.id = st.patient_id
    JOIN scanners sc ON sc.id = st.scanner_id
    LEFT JOIN sites si ON si.id = sc.site_id
"""


def _scanner_walk(index: str) -> str:
    """Scanners walked in the order, each one's studies in ``index``, then their site.

    The site is joined last: SQLite 3.40 returned the rows of a descending walk in ascending
    order when the site's LEFT JOIN stood between the scanners and the studies (and was
    left out as unused); the paging tests sort both ways.
    """
    return (
        f"scanners sc CROSS JOIN studies st INDEXED BY {index} ON st.scanner_id = sc.id"
        " LEFT JOIN sites si ON si.id = sc.site_id"
    )


def _by_site(columns: str, order: str, page: str, descending: bool) -> str:
    """SQL for a page of every study by site, then scanner, then study, walked by index.

    Two walks merged (SQLite's MERGE of a compound): the scanners without a site (their
    site shown empty, first), and the sites in code order, each one's scanners and each
    scanner's studies by index. Only the first is sorted, and only when such scanners have
    studies (a scanner gets its institution as its site when it is first seen).
    """
    way = " DESC" if descending else ""
    return f"""
        WITH page AS (
            SELECT st.id, '' AS code, sc.id AS scanner FROM scanners sc
            CROSS JOIN studies st INDEXED BY studies_scanner ON st.scanner_id = sc.id
            WHERE sc.site_id IS NULL
            UNION ALL
            SELECT st.id, si.code, sc.id FROM sites si
            CROSS JOIN scanners sc ON sc.site_id = si.id
            CROSS JOIN studies st INDEXED BY studies_scanner ON st.scanner_id = sc.id
            ORDER BY 2{way}, 3{way}, 1{way} {page})
        {columns} FROM page JOIN studies st ON st.id = page.id {_JOINS} {order}
    """


#: Patients walked in the order's index, each one's studies by index.
_BY_PATIENT = "patients p CROSS JOIN studies st ON st.patient_id = p.id"


def _page_first(columns: str, source: str, where: str, order: str, page: str) -> str:
    """SQL that picks a page of study ids from ``source``, then computes ``columns`` for it."""
    return f"""
        WITH page AS (SELECT st.id FROM {source} {where} {order} {page})
        {columns} FROM page JOIN studies st ON st.id = page.id {_JOINS} {order}
    """


def _paging(limit: int | None, offset: int) -> tuple[str, list[object]]:
    if limit is None:
        return ("LIMIT -1 OFFSET ?", [max(offset, 0)]) if offset else ("", [])
    return "LIMIT ? OFFSET ?", [max(limit, 0), max(offset, 0)]


def _searchable(db: Database) -> None:
    """Register the search's SQL functions on this connection (new patients' terms need them).

    :func:`~dxa_app.archive.db.open_archive` registers them on every archive it opens; this
    covers a connection made otherwise.
    """
    register_search_functions(db.conn)


#: Above every character: ``term < prefix + _TOP`` ends a prefix range.
_TOP = "\U0010ffff"


def _search(search: str, column: str = "p.id") -> tuple[str, list[object]]:
    """Return a condition on a patient id ``column`` (and its parameters) matching a search.

    Digits (with or without the CPR's dash) match identifiers that begin with them or, from
    four digits, hold them anywhere (e.g. the last four of a CPR number); any search matches a
    name in which every word typed begins a word of the name ("han mett" finds "Mette
    Hansen"), in any case, æ, ø and å included. Each is a prefix range of the index of search
    terms (``patient_terms``, migration 0023), not a scan of every patient. An empty search
    gives no condition; one with nothing to look up (only dashes) finds nobody.
    """
    text = " ".join(search.split())
    if not text:
        return "", []
    ranges: list[str] = []  # the prefixes of terms that match the identifier
    compact = compact_identifier(text)
    if compact:
        ranges.append("i" + compact)
        if compact.isdigit() and len(compact) >= 4:  # anywhere in it
            ranges.append("s" + compact)
    words = ["n" + word for word in name_words(text)]
    one = "SELECT patient_id FROM patient_terms WHERE term >= ? AND term < ?"
    selects: list[str] = []
    params: list[object] = []
    if ranges:
        selects.append(" UNION ".join(one for _ in ranges))
        params += [v for prefix in ranges for v in (prefix, prefix + _TOP)]
    if words:  # every word begins a word of the name
        selects.append(" INTERSECT ".join(one for _ in words))
        params += [v for prefix in words for v in (prefix, prefix + _TOP)]
    if not selects:
        return "0", []
    found = " UNION ".join(f"SELECT patient_id FROM ({sel})" for sel in selects)
    return f"{column} IN ({found})", params


def _person_where(search: str) -> tuple[str, list[object]]:
    """Return the patient list's WHERE (on ``p``) and parameters: people, searched.

    A patient merged into another is not listed; a search also finds a person by a record
    merged into them (its CPR number or name).
    """
    where = "p.id NOT IN (SELECT patient_id FROM patient_merges WHERE unmerged_at IS NULL)"
    cond, params = _search(search)
    if not cond:
        return where, []
    # the records merged into someone are few: each is looked up in what the search found
    # (``+`` keeps SQLite from walking every patient found to look for a merge instead)
    merged, merged_params = _search(search, column="+m.patient_id")
    where += (
        f" AND ({cond} OR p.id IN (SELECT m.into_patient_id FROM patient_merges m"
        f" WHERE m.unmerged_at IS NULL AND {merged}))"
    )
    return where, params + merged_params


def _patient_summary(db: Database, r: dict[str, object]) -> PatientSummary:
    first = r.get("duplicate_of")
    flagged = first is not None and person_of(db, int(str(r["id"]))) != person_of(
        db, int(str(first))
    )
    return PatientSummary(
        id=int(str(r["id"])),
        identifier=str(r["identifier"]),
        name=str(r["name"]),
        birth_date=parse_date(r["birth_date"]),  # type: ignore[arg-type]
        sex=Sex(str(r["sex"])) if r["sex"] else None,
        n_studies=int(str(r["n_studies"])),
        last_study=parse_date(r["last_study"]),  # type: ignore[arg-type]
        possible_duplicate=flagged,
    )


def list_patients(
    db: Database,
    *,
    search: str = "",
    sort: str = "name",
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> list[PatientSummary]:
    """Return people (a patient row and the rows merged into it) with their studies, one page.

    A patient merged into another is not listed on its own: its studies count for the
    patient it was merged into. Sorting by name, identifier, birth date or sex walks an index
    and counts the studies of the page's people only; sorting by the number of studies or the
    last study counts everyone's first.

    Parameters
    ----------
    db : Database
        The open archive.
    search : str
        Only people whose CPR/ID begins with it (the CPR's dash may be left out) or whose name
        contains it; empty: everyone.
    sort : str
        A key of :data:`PATIENT_SORTS` (default: by name, case-insensitive).
    descending : bool
        Reverse the order.
    offset, limit : int
        The page: skip ``offset`` people, return at most ``limit`` (None: all).

    Returns
    -------
    list of PatientSummary
        The page, in order.
    """
    order = _order(PATIENT_SORTS, sort, descending, "p.id")
    _searchable(db)
    where, params = _person_where(search)
    page, page_params = _paging(limit, offset)
    if sort in _AGGREGATE_SORTS:
        sql = f"""
            {PERSON_CTE}
            SELECT p.id, p.identifier, p.name, p.birth_date, p.sex, p.duplicate_of,
                   count(s.id) AS n_studies, max(s.study_date) AS last_study
            FROM patients p
            JOIN person pe ON pe.rid = p.id
            LEFT JOIN studies s ON s.patient_id = pe.pid
            WHERE {where}
            GROUP BY p.id {order} {page}
        """
        return [_patient_summary(db, r) for r in db.query(sql, params + page_params)]
    # a search looks up the people it found and sorts them: walking the name index instead
    # probes every patient in name order to find a handful (0.1-0.2 s at 40,000)
    scan = "NOT INDEXED" if search.strip() else ""
    sql = f"""
        WITH RECURSIVE page AS (
            SELECT p.id FROM patients p {scan} WHERE {where} {order} {page}
        ),
        member(rid, pid) AS (
            SELECT id, id FROM page
            UNION
            SELECT member.rid, m.patient_id FROM member
            JOIN patient_merges m ON m.into_patient_id = member.pid AND m.unmerged_at IS NULL
        )
        SELECT p.id, p.identifier, p.name, p.birth_date, p.sex, p.duplicate_of,
               (SELECT count(*) FROM member JOIN studies s ON s.patient_id = member.pid
                WHERE member.rid = p.id) AS n_studies,
               (SELECT max(s.study_date) FROM member JOIN studies s ON s.patient_id = member.pid
                WHERE member.rid = p.id) AS last_study
        FROM page JOIN patients p ON p.id = page.id
        {order}
    """
    return [_patient_summary(db, r) for r in db.query(sql, params + page_params)]


def count_patients(db: Database, *, search: str = "") -> int:
    """Return how many people :func:`list_patients` lists for a search (all pages)."""
    _searchable(db)
    where, params = _person_where(search)
    return int(db.execute(f"SELECT count(*) FROM patients p WHERE {where}", params).fetchone()[0])


#: A search that finds more people than this is "broad": the newest studies are walked by
#: date and each is kept when its patient was found (a few hundred steps to fill a page),
#: instead of every study of thousands of people being looked up and sorted.
BROAD_SEARCH = 2000


def _found_many(db: Database, cond: str, params: list[object]) -> bool:
    """Return whether a search condition on ``sp`` finds more than :data:`BROAD_SEARCH` people."""
    sql = f"SELECT count(*) FROM (SELECT 1 FROM patients sp WHERE {cond} LIMIT ?)"
    return int(db.execute(sql, [*params, BROAD_SEARCH + 1]).fetchone()[0]) > BROAD_SEARCH


def _study_where(
    db: Database,
    patient_id: int | None,
    search: str,
    study_id: int | None = None,
    *,
    by_date: bool = False,
) -> tuple[str, list[object]]:
    conds: list[str] = []
    params: list[object] = []
    if study_id is not None:
        conds.append("st.id = ?")
        params.append(study_id)
    if patient_id is not None:
        members = list(person_members(db, patient_id))
        conds.append(f"st.patient_id IN ({','.join('?' * len(members))})")
        params.extend(members)
    _searchable(db)
    cond, search_params = _search(search, column="sp.id")
    if cond:  # the patients found first (from the terms' index), then their studies by index
        walk = by_date and patient_id is None and study_id is None
        keep = "+" if walk and _found_many(db, cond, search_params) else ""
        conds.append(f"{keep}st.patient_id IN (SELECT sp.id FROM patients sp WHERE {cond})")
        params.extend(search_params)
    return ("WHERE " + " AND ".join(conds) if conds else ""), params


def list_studies(
    db: Database,
    patient_id: int | None = None,
    *,
    search: str = "",
    sort: str = "date",
    descending: bool = True,
    offset: int = 0,
    limit: int | None = None,
    study_id: int | None = None,
) -> list[StudySummary]:
    """Return the studies of one person (all their merged patient rows), or of everyone.

    Parameters
    ----------
    db : Database
        The open archive.
    patient_id : int, optional
        The person (default: every study).
    search : str
        Only studies of patients whose CPR/ID begins with it or whose name contains it.
    sort : str
        A key of :data:`STUDY_SORTS` (default: by date).
    descending : bool
        Newest (largest) first (the default).
    offset, limit : int
        The page: skip ``offset`` studies, return at most ``limit`` (None: all).
    study_id : int, optional
        Only this study (the row of one study a picker shows).

    Returns
    -------
    list of StudySummary
        The page, in order (ties by study id in the same direction).
    """
    order = _order(STUDY_SORTS, sort, descending, "st.id")
    where, params = _study_where(db, patient_id, search, study_id, by_date=sort == "date")
    page, page_params = _paging(limit, offset)
    columns = """
        SELECT st.id, st.study_uid, st.patient_id, p.identifier, p.name, st.study_date,
               coalesce(si.code, '') AS site, sc.manufacturer, sc.model, sc.serial,
               st.scan_types, st.n_results
    """
    # the page's studies first, then their columns: a deep page skips the rows it passes
    # in the order's index alone, without looking up their patient and scanner
    source = "studies st" if sort in ("date", "scan_types", "n_results") else f"studies st {_JOINS}"
    if sort in ("patient_name", "patient_identifier"):  # walk the patients' index
        source = _BY_PATIENT
    elif sort in ("scanner", "serial") and not where:
        # every study: walk the scanners in the order, each one's studies by index
        source = _scanner_walk("studies_scanner")
    if sort == "site" and not where:
        sql = _by_site(columns, order, page, descending)
    else:
        sql = _page_first(columns, source, where, order, page)
    out: list[StudySummary] = []
    for r in db.query(sql, params + page_params):
        date = parse_date(r["study_date"])
        assert date is not None
        out.append(
            StudySummary(
                id=r["id"],
                study_uid=r["study_uid"],
                patient_id=r["patient_id"],
                patient_identifier=r["identifier"],
                patient_name=r["name"],
                study_date=date,
                site=r["site"],
                manufacturer=r["manufacturer"],
                model=r["model"],
                serial=r["serial"],
                scan_types=tuple(sorted((r["scan_types"] or "").split(",")))
                if r["scan_types"]
                else (),
                n_results=r["n_results"],
            )
        )
    return out


def count_studies(db: Database, patient_id: int | None = None, *, search: str = "") -> int:
    """Return how many studies :func:`list_studies` lists (all pages)."""
    where, params = _study_where(db, patient_id, search)
    sql = f"SELECT count(*) FROM studies st {where}"
    return int(db.execute(sql, params).fetchone()[0])


def _worklist_where(
    *,
    include_signed: bool,
    since: str | None,
    before: str | None,
    site: str,
    scanner_id: int | None,
) -> tuple[str, list[object]]:
    """Return the worklist's WHERE clause (studies as ``st``) and its parameters.

    The stored state and the study date come first, so the ``studies_worklist`` index gives
    the period as one range; the site and scanner are checked per row of that range.
    """
    terms = ["st.has_results = 1"]
    params: list[object] = []
    if not include_signed:
        terms.append("st.report_signed = 0")
    if since:
        terms.append("st.study_date >= ?")
        params.append(since)
    if before:
        terms.append("st.study_date < ?")
        params.append(before)
    if scanner_id is not None:
        terms.append("st.scanner_id = ?")
        params.append(int(scanner_id))
    if site:
        terms.append(
            "st.scanner_id IN (SELECT sc2.id FROM scanners sc2"
            " JOIN sites si2 ON si2.id = sc2.site_id WHERE si2.code = ?)"
        )
        params.append(site)
    return "WHERE " + " AND ".join(terms), params


def pending_studies(
    db: Database,
    *,
    include_signed: bool = False,
    since: str | None = None,
    site: str = "",
    scanner_id: int | None = None,
    sort: str = "date",
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Return the physician's worklist: studies with results whose report is not signed.

    The stored state ``studies.has_results`` / ``studies.report_signed`` (kept by triggers)
    makes the default order, oldest first, one walk of an index; a period is a range of it.

    Parameters
    ----------
    db : Database
        The open archive.
    include_signed : bool
        Also list studies whose report is signed.
    since : str, optional
        Only studies on or after this ISO date (None: every date).
    site : str
        Only studies on a scanner of the site with this code ('' : every site).
    scanner_id : int, optional
        Only studies on this scanner (None: every scanner).
    sort : str
        A key of :data:`WORKLIST_SORTS` (default: by study date).
    descending : bool
        Newest first.
    offset, limit : int
        The page (limit None: all).

    Returns
    -------
    list of dict
        Rows with the study, patient, site and scanner columns and ``n_signed`` (0/1),
        ``version_no`` and ``status`` of the newest report version (None without a report).
    """
    order = _order(WORKLIST_SORTS, sort, descending, "st.id")
    where, params = _worklist_where(
        include_signed=include_signed, since=since, before=None, site=site, scanner_id=scanner_id
    )
    page, page_params = _paging(limit, offset)
    columns = """
        SELECT st.id, st.study_uid, st.study_date, st.patient_id, p.identifier, p.name,
               coalesce(si.code, '') AS site, sc.manufacturer, sc.model, sc.serial,
               st.report_signed AS n_signed,
               (SELECT max(v.version_no) FROM reports r
                JOIN report_versions v ON v.report_id = r.id WHERE r.study_id = st.id)
                   AS version_no,
               (SELECT v.status FROM reports r
                JOIN report_versions v ON v.report_id = r.id WHERE r.study_id = st.id
                ORDER BY v.version_no DESC LIMIT 1) AS status
    """
    if sort == "status":  # sorted by what the report subqueries give: compute every row's
        sql = f"{columns} FROM studies st {_JOINS} {where} {order} {page}"
    else:  # the page first (by date: the worklist index alone), then its rows' columns
        source = "studies st" if sort in ("date", "study") else f"studies st {_JOINS}"
        if sort in ("site", "scanner", "serial") and since is None and not include_signed:
            # every date: the scanners, each one's waiting studies from the covering index
            source = _scanner_walk("studies_worklist_scanner")
        if sort in ("patient_name", "patient_identifier") and since is None:
            # every date: walk the patients' index and each one's studies (the planner would
            # rather scan the worklist index for every patient); a period keeps its range
            source = _BY_PATIENT.replace("studies st", "studies st INDEXED BY studies_patient")
        sql = _page_first(columns, source, where, order, page)
    return list(db.query(sql, [*params, *page_params]))


def count_pending(
    db: Database,
    *,
    include_signed: bool = False,
    since: str | None = None,
    before: str | None = None,
    site: str = "",
    scanner_id: int | None = None,
) -> int:
    """Return how many studies :func:`pending_studies` lists (all pages).

    ``before`` (an ISO date) counts only the studies before it: the older ones a period
    leaves out.
    """
    where, params = _worklist_where(
        include_signed=include_signed,
        since=since,
        before=before,
        site=site,
        scanner_id=scanner_id,
    )
    sql = f"SELECT count(*) FROM studies st {where}"
    return int(db.execute(sql, params).fetchone()[0])
