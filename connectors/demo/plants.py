"""Which accounts carry which planted pattern (and which carry a near miss that must not count)."""

from __future__ import annotations

import random

from connectors.demo.accounts import Acct
from connectors.demo.common import Clock, rng_for
from connectors.demo.sizes import SizeSpec


def _pick(rng: random.Random, flag: str, pool: list[Acct], k: int) -> None:
    for acct in rng.sample(pool, k=min(k, len(pool))):
        acct.flags.add(flag)


def plant_flags(*, seed: int, clock: Clock, spec: SizeSpec, accts: list[Acct]) -> None:
    """Flags drive the generators: volume_drop, high_failure, late_payer, declining, champion_left
    are planted patterns; late_twice, champion_promoted and contact_left are near misses."""
    rng = rng_for(seed, "plants")
    live = [a for a in accts if a.lifecycle == "live"]
    k = spec.plants
    _pick(rng, "volume_drop", [a for a in live if a.go_live < clock.month(6)], k)
    _pick(rng, "high_failure", [a for a in live if a.go_live < clock.month(3)], k)
    late_pool = [a for a in live if a.customer_since < clock.month(9)]
    _pick(rng, "late_payer", late_pool, k)
    _pick(rng, "late_twice", [a for a in late_pool if "late_payer" not in a.flags], k)
    _pick(rng, "declining", [a for a in live if (clock.as_of - a.go_live).days >= 150], k)
    champs = [a for a in live if a.champion]
    _pick(rng, "champion_left", champs, k)
    _pick(rng, "champion_promoted", [a for a in champs if "champion_left" not in a.flags], max(1, k // 2))
    others = [a for a in accts if a.is_customer and any(not c.is_champion for c in a.contacts)]
    _pick(rng, "contact_left", others, k)
