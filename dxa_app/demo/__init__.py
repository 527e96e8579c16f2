"""Package dxa_app/demo."""
