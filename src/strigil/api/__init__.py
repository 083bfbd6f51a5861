"""The HTTP API: one route module per resource (``routes``), their dependencies (``deps``),
request and response bodies (``schemas``), who may see what (``access``), tokens
(``security``) and the live path of running sessions (``live``)."""
