"""``strigil demo``: the whole service on one machine (:mod:`.service`), with four weeks of
simulated history (:mod:`.history`). Demo mode only."""
