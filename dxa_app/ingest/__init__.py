"""Package dxa_app/ingest."""
