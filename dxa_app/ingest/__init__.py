"""One reader per source (Hologic/GE DICOM, APEX, generic CSV) and the registry that sniffs.

Readers return records and problems; they never touch the archive. ``cells`` is the one
cell/row parser of the tabular readers (APEX tables and the generic CSV).
"""
