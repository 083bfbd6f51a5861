"""Recorded sessions as files: the CSV format (``format``), whole files with Arrow (``files``)
and their analysis (``analysis``). The format module is light enough for the ingester."""
