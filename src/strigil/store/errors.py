"""The store layer's errors, one root (:class:`StoreError`):

::

    StoreError
    ├── TimeSeriesError                    the time-series store
    │   ├── InvalidSamplesError (ValueError)   nothing of the write was stored
    │   ├── UnknownSessionError (KeyError)     a session never begun
    │   ├── StoreUnavailableError              the backend cannot be reached for a read
    │   └── WriteQueueFullError                its on-disk queue is full
    ├── RecordingImportError (ValueError)  a file that cannot be imported as asked
    ├── ExportFilterError (ValueError)     an export filter naming what does not exist
    └── WeakPasswordError (ValueError)     a password too short to set
"""

from __future__ import annotations


class StoreError(Exception):
    """Root of the store layer's errors."""


class TimeSeriesError(StoreError):
    """Base of the time-series store's errors."""


class InvalidSamplesError(TimeSeriesError, ValueError):
    """Samples that cannot be stored (shape, NaN, out of range, time): nothing was written."""


class UnknownSessionError(TimeSeriesError, KeyError):
    """A write or read for a session that was never begun (or was deleted)."""

    def __str__(self) -> str:  # KeyError quotes its argument; say it plainly
        return str(self.args[0])


class StoreUnavailableError(TimeSeriesError):
    """The backend cannot be reached for a read (writes queue instead)."""


class StoreAccessError(StoreUnavailableError):
    """The backend answered, but refused these credentials (401) or this user's rights (403).

    Not "unreachable": the message says which setting or privilege to fix. Writes still queue
    on disk meanwhile, so nothing accepted is lost once it is fixed.
    """


class WriteQueueFullError(TimeSeriesError):
    """The on-disk write queue reached its limit while the backend was unreachable.

    The batch that did not fit was not accepted; everything accepted before is kept.
    """


class RecordingImportError(StoreError, ValueError):
    """The file cannot be imported as asked; the message says what to change."""


class ExportFilterError(StoreError, ValueError):
    """An export filter names a clinic, person or tool that does not exist; says which."""


class WeakPasswordError(StoreError, ValueError):
    """A password too short to set; the message says the minimum."""
