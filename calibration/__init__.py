"""Package calibration."""
