"""Dash pages: layouts and callbacks."""
