"""Package dxa_app."""
