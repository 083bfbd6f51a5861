"""The dashboards: HTML pages and their static files (ES modules, CSS, uPlot), served by the
API process under the same origin (no CDN)."""
