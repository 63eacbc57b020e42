"""Salesforce CRM: Account, Contact, Opportunity (with stage history), Task and Event over SOQL."""

from connectors.salesforce.config import SalesforceConnection
from connectors.salesforce.connector import SalesforceConfig, SalesforceConnector
from connectors.salesforce.reader import ObjectStream, SoqlCheckpoint, SoqlReader

__all__ = [
    "ObjectStream",
    "SalesforceConfig",
    "SalesforceConnection",
    "SalesforceConnector",
    "SoqlCheckpoint",
    "SoqlReader",
]
