"""Pure numpy/scipy calibration library: fits, QC, precision, references, scores and chains."""
