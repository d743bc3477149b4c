"""Analysis runs: read the store, compute with gis/, write results back."""
