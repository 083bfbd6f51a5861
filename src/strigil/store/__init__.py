"""Storage of time series and metadata (grows in the storage issue)."""
