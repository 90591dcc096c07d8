"""Spellings of one word that an embedder tells apart only slightly.

"twelve hours" and "12 hours" embed at cosine 0.994, "moraine" and "moraines" at 0.992: close
enough that an inverter writes the wrong one, far enough that the embedder can pick the right one
when offered both. The search offers every variant of every word of a hypothesis as a proposal:
digits and number words, hyphenated compounds and their parts, singular and plural, British and
American spellings. Variants may lie outside the decoder's vocabulary ("moraines"); the search
offers only those in its word probe's vocabulary (the embedder would reward "whiches" for "which"
too), and the embedder's cosine decides whether they stay.

`number_values` is the other half for numbers: not another spelling of the same value but the
values near it ("six weeks" for "eight weeks", 1988 for 1989), which embed closer still, so a
search that writes the wrong one has to be offered the right one to find it.
"""
from __future__ import annotations

import re
from functools import lru_cache

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen").split()
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER = {w: i for i, w in enumerate(ONES)} | {w: 10 * (i + 2) for i, w in enumerate(TENS)}
# stems spelt -our in British English and -or in American (colour/color), and -tre/-ter (metre/meter)
_OUR = "col hon fav lab harb neighb behavi flav hum rum vap arm vig rig savi od glam endeav".split()
_TRE = "met kilomet centimet millimet cent lit theat fib somb"
_NO_PLURAL = set("this that these those does goes has was is his its us yes gas bus less news always "
                 "perhaps whereas thus across".split())
_EDGE = re.compile(r"^([^\w]*)(.*?)([^\w]*)$")
QUANTITIES = tuple(ONES[1:] + TENS + "hundred thousand million billion dozen few several many".split())
_SMALL = sorted(set(range(1, 13)) | {15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100})


def number_words(n: int) -> list[tuple[str, ...]]:
    """0..99 in words: 35 → 'thirty-five' and 'thirty five'."""
    if n < 20:
        return [(ONES[n],)]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return [(TENS[tens - 2],)]
    return [(f"{TENS[tens - 2]}-{ONES[ones]}",), (TENS[tens - 2], ONES[ones])]


def _number(core: str) -> list[tuple[str, ...]]:
    if core.isdigit() and len(core) <= 2:
        return number_words(int(core))
    if core in NUMBER:
        return [(str(NUMBER[core]),)]
    parts = core.split("-")
    if len(parts) == 2 and parts[0] in TENS and parts[1] in ONES[1:10]:
        return [(str(NUMBER[parts[0]] + NUMBER[parts[1]]),)]
    return []


def _number_of(core: str) -> list[str]:
    """Singular and plural of one lower-case word, by the regular rules only."""
    if not core.isalpha() or len(core) < 4 or core in _NO_PLURAL:
        return []
    if core.endswith("ies"):
        return [core[:-3] + "y"]
    if core.endswith(("ses", "xes", "ches", "shes")):
        return [core[:-2]]
    if core.endswith("s") and not core.endswith(("ss", "us", "is")):
        return [core[:-1]]
    if core.endswith(("s", "x", "ch", "sh")):
        return [core + "es"]
    if core.endswith("y") and core[-2] not in "aeiou":
        return [core[:-1] + "ies"]
    return [core + "s"]


def _spelling(core: str) -> list[str]:
    out = []
    for stem in _OUR:
        if core.startswith(stem + "our"):
            out.append(stem + "or" + core[len(stem) + 3:])
        elif core.startswith(stem + "or") and not core.startswith(stem + "our"):
            out.append(stem + "our" + core[len(stem) + 2:])
    m = re.fullmatch(rf"({_TRE.replace(' ', '|')})(re|er)(s?)", core)
    if m:
        out.append(m[1] + ("er" if m[2] == "re" else "re") + m[3])
    return out


def _dressed(word: str, alternatives: list[str]) -> tuple[tuple[str, ...], ...]:
    """Each alternative for `word` with its edge punctuation and leading capital."""
    lead, core, trail = _EDGE.match(word).groups()
    cap = core[:1].isupper()
    return tuple((lead + (a[:1].upper() + a[1:] if cap else a) + trail,) for a in alternatives if a != core.lower())


@lru_cache(maxsize=1 << 12)
def number_values(word: str) -> tuple[tuple[str, ...], ...]:
    """Other values for a number token: every other quantity word for a quantity word, nearby
    and round values for a small numeral, nearby years for a four-digit one."""
    core = _EDGE.match(word)[2].lower()
    if core in QUANTITIES:
        return _dressed(word, list(QUANTITIES))
    if not core.isdigit() or core.startswith("0") or len(core) > 4:
        return ()
    n = int(core)
    near = [n + d for d in (-10, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 10)]
    values = near if len(core) == 4 else sorted(set(_SMALL) | {m for m in near if m > 0})
    return _dressed(word, [str(m) for m in values])


def unwrapped(token: str) -> str:
    """A token without the punctuation at its edges, in its own casing: 'Glacier's' from '("Glacier's"'."""
    return _EDGE.match(token)[2]


def core(token: str) -> str:
    """A token without the punctuation at its edges, lower-cased: what a known-word list holds."""
    return unwrapped(token).lower()


@lru_cache(maxsize=1 << 16)
def variants(word: str) -> tuple[tuple[str, ...], ...]:
    """Each variant of one whitespace token as a tuple of tokens (a number may become two words);
    punctuation at its edges stays where it was and a leading capital is kept."""
    lead, core, trail = _EDGE.match(word).groups()
    if not core:
        return ()
    low = core.lower()
    found: list[tuple[str, ...]] = _number(low)
    if not found:  # a number's only variants are its other spelling: no 'twelves'
        parts = [p for p in low.split("-") if p]
        if len(parts) > 1 and all(p.isalpha() for p in parts):
            found.append(tuple(parts))
        found += [(v,) for v in _number_of(low) + _spelling(low)]
    out = []
    for v in found:
        if core[:1].isupper():
            v = (v[0][:1].upper() + v[0][1:],) + v[1:]
        v = (lead + v[0],) + v[1:]
        v = v[:-1] + (v[-1] + trail,)
        if v != (word,):
            out.append(v)
    return tuple(dict.fromkeys(out))
