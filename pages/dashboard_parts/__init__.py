"""The Dashboard page's parts: its tables."""
