"""Package dxa_app/gui."""
