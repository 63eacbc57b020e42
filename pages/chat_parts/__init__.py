"""The Chat page's parts: an answer's parts, asking live, the conversation list, your memories."""
