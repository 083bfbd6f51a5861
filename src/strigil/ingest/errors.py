"""The ingest layer's errors, one root (:class:`IngestError`):

::

    IngestError
    ├── ProtocolError (ValueError)     something of the tool profile not followed
    │   ├── MalformedFrameError        a notification that is not a valid frame
    │   ├── InvalidCommandError        a control-point write that is not a command
    │   └── ToolConfigError            the config characteristic is not the profile's JSON
    ├── WireFormatError (ValueError)   an ingester→API batch that breaks the wire format
    ├── RefusedBatchError              the API could not store a batch (it stays spooled)
    └── TokenRefusedError              the API refused the ingest token: stop, say so
"""

from __future__ import annotations


class IngestError(Exception):
    """Root of the ingest layer's errors."""


class ProtocolError(IngestError, ValueError):
    """Base class of everything in the tool profile that does not follow it."""


class MalformedFrameError(ProtocolError):
    """A sample-stream notification that is not a valid profile-v1 frame.

    Count it and drop it; never guess at its contents.
    """


class InvalidCommandError(ProtocolError):
    """A control-point write that is not a valid command (the tool answers with an ATT error)."""


class ToolConfigError(ProtocolError):
    """The tool-config characteristic does not hold the JSON object the profile describes."""


class WireFormatError(IngestError, ValueError):
    """A batch that does not follow the wire format; the message says where it breaks."""


class RefusedBatchError(IngestError):
    """The API could not store a batch (it said why); it stays spooled and is sent again."""


class TokenRefusedError(IngestError):
    """The API refused the ingest token (HTTP 401/403 at the handshake): retrying cannot help.

    The ingester stops with this message and exit code 2; what was spooled stays spooled.
    """


class BluetoothUnavailableError(IngestError):
    """The computer's Bluetooth cannot be used (no adapter, powered off, no D-Bus or BlueZ,
    BlueZ too old, permission denied); the message says which and what to do."""


class ToolRefusedError(IngestError):
    """A tool the ingester will not stream from (its link cannot carry the profile, or its
    serial already has a live link); the link gives up on it rather than retrying."""
