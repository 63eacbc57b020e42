"""Long-term memory of the agents: mem0 behind a small interface of ours.

Facts per user, per agent and per conversation (no call returns another user's memory), embedded by the
local model, stored as rows of the ``memories`` table and recalled by similarity (``store.py``: why not
mem0's own stores), forgotten by policy (expiry, decay of unused memories, retention) or on request, and
then really deleted, mem0's copies included. The calls: ``service.py``; mem0's assembly: ``mem0_bridge.py``.
"""

import os

# mem0 reads this at import and, unless it is off, sends usage events to an analytics host: off before any
# import of mem0 in this process (its folder, MEM0_DIR, is set from the settings in mem0_bridge).
os.environ["MEM0_TELEMETRY"] = "False"

from core.memory.items import MemoryItem  # noqa: E402
from core.memory.service import (  # noqa: E402
    DEFAULT_MIN_SCORE,
    add_memory,
    apply_memory_policy,
    forget_all,
    forget_memory,
    get_memory,
    list_memories,
    search_memories,
)

__all__ = [
    "DEFAULT_MIN_SCORE",
    "MemoryItem",
    "add_memory",
    "apply_memory_policy",
    "forget_all",
    "forget_memory",
    "get_memory",
    "list_memories",
    "search_memories",
]
