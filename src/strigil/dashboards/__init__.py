"""Dashboards served by the API (grow in the dashboards issue)."""
