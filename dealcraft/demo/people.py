"""Small generators for the demo: Chinese names with pinyin, phones, e-mails, credit codes."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping, Sequence
from typing import TypeVar

from dealcraft.demo import text

T = TypeVar("T")

# GB 32100-2015: the 31 characters of a unified social credit code and the check weights.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
# GB 11714-1997: the organisation code inside it (8 characters and a check character).
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


class Weighted:
    """A weighted choice over a mapping, drawn in O(log n) with precomputed cumulative weights."""

    def __init__(self, weights: Mapping[T, float] | Sequence[tuple[T, float]]) -> None:
        pairs = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random):
        index = bisect.bisect_right(self.cumulative, rng.random() * self.total)
        return self.values[min(index, len(self.values) - 1)]


def person_name(rng: random.Random) -> tuple[str, str, str]:
    """A Chinese name, its pinyin for addresses (``zhang.wei``) and the surname alone."""
    surname, surname_py = rng.choice(text.SURNAMES)
    count = 1 if rng.random() < 0.3 else 2
    chars = [rng.choice(text.GIVEN_CHARS) for _ in range(count)]
    given = "".join(c for c, _ in chars)
    given_py = "".join(p for _, p in chars)
    return surname + given, f"{surname_py}.{given_py}", surname


def mobile(rng: random.Random) -> str:
    return rng.choice(text.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def landline(rng: random.Random, area_code: str) -> str:
    digits = 8 if len(area_code) == 3 else rng.choice((7, 8))
    first = str(rng.randint(2, 8))
    rest = "".join(str(rng.randrange(10)) for _ in range(digits - 1))
    return f"{area_code}-{first}{rest}"


def domain(rng: random.Random) -> str:
    syllables = rng.sample(text.BRAND_SYLLABLES, rng.choice((2, 2, 3)))
    return "".join(syllables) + rng.choice(text.DOMAIN_ENDINGS)


def wecom_id(rng: random.Random, pinyin: str) -> str:
    return f"{pinyin.replace('.', '')}{rng.randrange(100, 10000)}"


def credit_code(rng: random.Random, division_prefix: str) -> str:
    """A unified social credit code with valid check characters (GB 32100 and GB 11714).

    ``91`` marks a company registered with market regulation; the division code places it in
    the account's city.
    """
    division = division_prefix + f"{rng.randint(1, 18):02d}"
    body = [rng.choice(USCC_CHARS) for _ in range(8)]
    org_sum = sum(USCC_CHARS.index(c) * w for c, w in zip(body, ORG_WEIGHTS, strict=True))
    org_check = 11 - org_sum % 11
    body.append("X" if org_check == 10 else "0" if org_check == 11 else str(org_check))
    head = "91" + division + "".join(body)
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(head, USCC_WEIGHTS, strict=True))
    return head + USCC_CHARS[(31 - total % 31) % 31]


def credit_code_is_valid(code: str) -> bool:
    """Whether ``code`` has 18 characters of the code alphabet and a correct check character."""
    if len(code) != 18 or any(c not in USCC_CHARS for c in code):
        return False
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(code[:17], USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31] == code[17]
