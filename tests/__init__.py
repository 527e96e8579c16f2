"""Tests of the DXA tool."""
