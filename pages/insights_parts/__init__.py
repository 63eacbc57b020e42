"""The Insights page's parts: the insight card."""
