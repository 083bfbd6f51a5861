"""Research data: de-identified bundles a study can cite, and a Motion-BIDS dataset.

- :mod:`~strigil.research.schema`: every table's columns (type, unit, meaning, allowed values);
- :mod:`~strigil.research.selection`: which sessions (a filter that refuses unknown ids);
- :mod:`~strigil.research.collect`: one session's rows, from the stores;
- :mod:`~strigil.research.writers`: CSV, Parquet and ``.mat`` by the schema;
- :mod:`~strigil.research.bundle`, :mod:`~strigil.research.bids`: the two kinds of export;
- :mod:`~strigil.research.definitions`: the texts that travel with the data;
- :mod:`~strigil.research.doses`: the dose per body area (shared with the API);
- :mod:`~strigil.research.archive`: a reproducible streaming ZIP.
"""
