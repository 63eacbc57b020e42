"""Ask Sophia: agents (the registry), the engines (the CrewAI crew with a language model, the offline engine
without one), consensus, conversations and approvals. ``core.agents.ask`` is the entry.

CrewAI and mem0 read these at import: nothing leaves the machine unasked (no telemetry, no version checks)."""

import os

for _name, _value in {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "MEM0_TELEMETRY": "False",
}.items():
    os.environ.setdefault(_name, _value)
