"""Tests of the pure core: no I/O, milliseconds each."""
