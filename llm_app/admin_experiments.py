"""Experiment admin (being written)."""
