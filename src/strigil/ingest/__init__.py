"""Talking to tools: the BLE profile codec, the ingester and the virtual tool."""
