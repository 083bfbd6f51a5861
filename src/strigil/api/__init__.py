"""HTTP API (grows in the API issue)."""
