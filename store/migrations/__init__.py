"""Alembic migrations for the Sightline store."""
