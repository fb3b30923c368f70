"""Producers: the county simulator and the adapters that bring outside feeds into the log."""
