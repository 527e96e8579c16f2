"""Package dxa_app/services."""
