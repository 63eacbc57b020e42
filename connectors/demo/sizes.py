"""How big each demo is: accounts, staff, how much each account talks, and how many patterns to plant."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidInput

SIZES = ("small", "medium", "large")


@dataclass(frozen=True)
class SizeSpec:
    name: str
    accounts: int
    apollo_prospects: int
    talk: float  # multiplier on calls, activities and Slack messages per account
    plants: int  # how many records to plant per pattern (at least; stuck accounts and reps scale lower)

    @property
    def talkative_reps(self) -> int:
        return max(1, self.plants // 4)

    @property
    def stuck(self) -> int:
        return max(3, self.plants * 2 // 3)


SPECS = {
    "small": SizeSpec("small", accounts=60, apollo_prospects=40, talk=1.0, plants=3),
    "medium": SizeSpec("medium", accounts=300, apollo_prospects=200, talk=1.0, plants=8),
    "large": SizeSpec("large", accounts=4_000, apollo_prospects=2_500, talk=1.4, plants=40),
}


def spec_for(size: str) -> SizeSpec:
    try:
        return SPECS[size]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown demo size {size!r}; expected one of {', '.join(SIZES)}") from None
