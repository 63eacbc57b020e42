"""Gong: calls with their participants, CRM links and speaker-attributed transcripts."""

from connectors.gong.connector import CallsCheckpoint, GongConfig, GongConnector

__all__ = ["CallsCheckpoint", "GongConfig", "GongConnector"]
