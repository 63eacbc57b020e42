"""Apollo.io: people search for prospects, organisation enrichment of our accounts."""

from connectors.apollo.connector import ApolloConfig, ApolloConnector, PeopleSearch

__all__ = ["ApolloConfig", "ApolloConnector", "PeopleSearch"]
