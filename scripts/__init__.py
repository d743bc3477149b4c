"""Command-line entry points (thin: they call the packages)."""
