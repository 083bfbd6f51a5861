"""One router module per resource, gathered in :mod:`strigil.api.router`."""
