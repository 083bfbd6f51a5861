"""The bottom layer: small pieces every other layer may use and that use nothing of strigil.

- :mod:`strigil.common.ids` — the id rule for tool serials, session ids and patient codes;
- :mod:`strigil.common.spool` — a bounded first-in first-out queue of payloads on disk;
- :mod:`strigil.common.backoff` — how long to wait before retry number *n*.
"""
