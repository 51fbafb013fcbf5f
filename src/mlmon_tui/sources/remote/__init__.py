"""Readers of remote services (Prometheus' HTTP API)."""
