"""Traces, metrics and logs of every mesh process (set up once in a stage's main)."""
