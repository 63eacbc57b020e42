"""Memory tests: a migrated runtime with two more users (vera, omar), on a clock the test moves."""

from __future__ import annotations

import pytest

from core.runtime import Runtime
from tests.utils.memory import add_users


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    return add_users(runtime)
