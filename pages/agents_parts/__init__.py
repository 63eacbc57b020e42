"""The Agents page's parts: the edit form and the version history."""
