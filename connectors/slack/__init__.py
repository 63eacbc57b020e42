"""Slack: channel messages with their threads (channels and users give them their names)."""

from connectors.slack.connector import MessagesCheckpoint, SlackConfig, SlackConnector

__all__ = ["MessagesCheckpoint", "SlackConfig", "SlackConnector"]
