"""The signal layer's errors, one root:

::

    SignalError (ValueError)
    ├── SignalInputError   samples handed to the analysis are unusable
    └── SettingsError      an analysis setting is out of its valid range
"""

from __future__ import annotations


class SignalError(ValueError):
    """Root of the signal layer's errors: bad input to pure signal code."""


class SignalInputError(SignalError):
    """Samples handed to the analysis are unusable (shape, NaN, time not increasing)."""


class SettingsError(SignalError):
    """An analysis setting is out of its valid range; the message names it."""
