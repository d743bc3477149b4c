"""Importers: parse -> validate -> write in one transaction."""
