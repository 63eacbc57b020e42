"""The tool catalogue: every capability an agent may use, as a typed function with its role and citations.

ctx = ToolContext(runtime=rt, identity=who)
result = ctx.call("account_overview", {"account": "Harbor Point"})   # role checked here
result.text, result.data, ctx.citations
"""

from core.tools.base import Citation, Proposal, Tool, ToolArgs, ToolCall, ToolContext, ToolResult

__all__ = ["Citation", "Proposal", "Tool", "ToolArgs", "ToolCall", "ToolContext", "ToolResult"]
