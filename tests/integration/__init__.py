"""Tests of one adapter at a time against the real embedded broker and Redis."""
