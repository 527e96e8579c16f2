"""GUI tests (Qt offscreen)."""
