"""HubSpot CRM: companies, contacts, deals (with stage history), engagements."""

from connectors.hubspot.connector import HubSpotConfig, HubSpotConnector, SearchCheckpoint

__all__ = ["HubSpotConfig", "HubSpotConnector", "SearchCheckpoint"]
