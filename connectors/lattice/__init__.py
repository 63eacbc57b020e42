"""Lattice: users, goals, review-cycle reviews and feedback (full passes; deletes by absence)."""

from connectors.lattice.connector import LatticeConfig, LatticeConnector, PassCheckpoint

__all__ = ["LatticeConfig", "LatticeConnector", "PassCheckpoint"]
