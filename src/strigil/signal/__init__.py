"""Signals: the simulator and the stroke analysis (pure functions on arrays)."""
