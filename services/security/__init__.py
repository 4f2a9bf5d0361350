"""Mutual TLS between the mesh's services and bearer-token authentication of the orchestrator's callers."""
