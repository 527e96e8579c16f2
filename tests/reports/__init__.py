"""Tests of the pure reports library."""
