"""Tests of the whole system, from an event on the log to what a client sees."""
