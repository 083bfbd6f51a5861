"""One router module per resource, gathered in strigil.api.app."""
