"""Deterministic synthetic scanner exports (vendor DICOM, APEX tables, generic CSV) and truth."""
