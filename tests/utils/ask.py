"""The `sophia ask --json` contract (issue #11), as the CLI and the API tests check it: exactly these keys."""

ASK_JSON_KEYS = {
    "answer",
    "offline",
    "conversation_id",
    "citations",
    "agents",
    "tool_calls",
    "consensus",
    "proposed_actions",
    "usage",
}
