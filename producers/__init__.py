"""Producers: what writes events into the log from outside (today, the county simulator)."""
