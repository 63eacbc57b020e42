"""NetSuite: customers, invoices and customer payments via SuiteQL over REST, OAuth 1.0a token-based auth."""

from connectors.netsuite.connector import NetSuiteConfig, NetSuiteConnector, SuiteQLCheckpoint

__all__ = ["NetSuiteConfig", "NetSuiteConnector", "SuiteQLCheckpoint"]
