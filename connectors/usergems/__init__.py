"""UserGems job changes: read from its records in the customer's Salesforce, or imported from a CSV export."""

from connectors.usergems.connector import UserGemsConfig, UserGemsConnector

__all__ = ["UserGemsConfig", "UserGemsConnector"]
