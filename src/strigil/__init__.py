"""strigil: measure instrument-assisted soft tissue mobilisation (IASTM).

Sub-packages: ``ingest`` (tool profile, BLE ingester), ``signal`` (simulation and stroke
analysis), ``api`` (HTTP service), ``store`` (time series and metadata), ``dashboards``
(static assets served by the API).
"""

__version__ = "0.1.0"
ALGORITHM_VERSION = "strokes-1.1"
"""Version of the stroke analysis; stored with every analysed session."""
