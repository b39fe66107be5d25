"""The pizza/Squatch world of the course's stories: who is in it, and every sentence it allows.

A story is a few sentences, each ending with ".": an introduction of two characters and
a place, a sentence that brings in one food, then one or more events. Every sentence is
a template with its slots filled, and every choice is uniform, so the probability of a
sentence is known exactly. This module enumerates, for a given state of the story (who
is in it, which food), every sentence that may come next with its probability: a small
**table**. ``stories`` samples, scores and recognises whole stories from these tables.

Pronouns are what makes the world interesting. A story's two characters never share a
pronoun (he, she, they), and "it" always means the story's food, never the oven, the
table or the place. What follows a pronoun depends on whom it means: each character has
its own actions ("he roared" can only be Squatch) and each food its own adjectives ("it
was cheesy" can only be the pizza), so predicting the word after a pronoun needs its
referent. A table entry records where each pronoun is, what it refers to, and the
position whose prediction needs the referent (the token just before the action or the
adjective).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property


@dataclass(frozen=True)
class Character:
    """name: its tokens ("the kids" → ("the", "kids"), the last one is the noun); pronoun:
    he, she or they; actions: what only this character does, after its pronoun."""

    name: tuple[str, ...]
    pronoun: str
    actions: tuple[str, ...]

    @cached_property
    def key(self) -> str:
        return " ".join(self.name)


CHARACTERS = (
    Character(("squatch",), "he", ("roared", "danced")),
    Character(("tom",), "he", ("whistled", "jumped")),
    Character(("lily",), "she", ("sang", "laughed")),
    Character(("mia",), "she", ("read", "clapped")),
    Character(("the", "kids"), "they", ("played", "cheered")),
    Character(("the", "cats"), "they", ("purred", "slept")),
)
FOODS = {  # food → the adjectives only it takes after "it was"
    "pizza": ("cheesy", "crispy"),
    "cake": ("sweet", "soft"),
    "soup": ("salty", "thick"),
    "bread": ("fresh", "warm"),
}
PLACES = ("kitchen", "garden", "house", "park")
THINGS = ("oven", "table")  # nouns in the templates that "it" could mean in English, but never does here

# Slots: {a} {b} the two characters in the order the story introduces them; {x} one of them,
# {y} the other; {r} a pronoun and {act} an action of the character it means; {food}, {adj}
# an adjective of the food, {place}. A literal "it" always means the food.
INTROS = (
    "{a} and {b} were in the {place} .",
    "{a} met {b} in the {place} .",
    "one day {a} and {b} went to the {place} .",
)
FOOD_INTROS = (
    "{x} made a {food} .",
    "{x} found a {food} in the oven .",
    "{x} bought a {food} .",
)
EVENTS = (
    "the {food} came out of the oven and it was {adj} .",
    "{x} saw the {food} on the table and it was {adj} .",
    "{x} liked the {food} because it was {adj} .",
    "{x} gave the {food} to {y} and {r} {act} .",
    "{x} looked at {y} and {r} {act} .",
    "after {x} ate the {food} , {r} {act} .",
    "{x} went home and {r} {act} .",
    "{r} {act} .",
)


@dataclass(frozen=True)
class Entry:
    """One sentence a table allows.

    tokens: the sentence, ending with "."; prob: its probability in this table; mentions:
    (offset, noun) for each noun in it (the noun's key, e.g. "the kids" or "pizza");
    links: (pronoun offset, referent noun, query offset) for each pronoun, where the query
    is the offset whose next-token prediction needs the referent; state: what the sentence
    decided for the rest of the story ((a, b, place) keys for an intro, (food,) for a food).
    """

    tokens: tuple[str, ...]
    prob: float
    mentions: tuple[tuple[int, str], ...]
    links: tuple[tuple[int, str, int], ...]
    state: tuple[str, ...] = ()

    @property
    def log_prob(self) -> float:
        return math.log(self.prob)


BY_KEY = {c.key: c for c in CHARACTERS}


def _render(template: str, slots: dict, prob: float, state: tuple[str, ...] = ()) -> Entry:
    """Fill ``template`` with ``slots`` (Characters for a b x y r; strings for the rest)."""
    tokens: list[str] = []
    mentions, links = [], []
    pronoun = None  # (offset, referent) of the pronoun waiting for its action or adjective
    for part, slot in _parts(template):
        if slot in ("a", "b", "x", "y"):
            tokens.extend(slots[slot].name)
            mentions.append((len(tokens) - 1, slots[slot].key))
        elif slot in ("food", "place"):
            mentions.append((len(tokens), slots[slot]))
            tokens.append(slots[slot])
        elif slot == "r":
            pronoun = (len(tokens), slots["r"].key)
            tokens.append(slots["r"].pronoun)
        elif slot in ("act", "adj"):
            links.append((pronoun[0], pronoun[1], len(tokens) - 1))
            tokens.append(slots[slot])
        else:
            if part == "it":
                pronoun = (len(tokens), slots["food"])
            elif part in THINGS:
                mentions.append((len(tokens), part))
            tokens.append(part)
    return Entry(tuple(tokens), prob, tuple(mentions), tuple(links), state)


@cache
def _parts(template: str) -> tuple[tuple[str, str | None], ...]:
    """ "{x} ate it ." → (("{x}", "x"), ("ate", None), ("it", None), (".", None))."""
    return tuple((p, p[1:-1] if p.startswith("{") else None) for p in template.split())


class Table:
    """Every sentence that may come next in one state of a story, with its probability.

    entries: the sentences (``Entry``); index: tokens → entry, for parsing; cumulative:
    running sums of the probabilities, for drawing one.
    """

    def __init__(self, entries: list[Entry], what: str):
        # Two ways to write the same sentence would make p(sentence) a sum rather than a
        # product of choices, and the entropy below wrong: the grammar must be unambiguous.
        self.entries = _entries(entries)
        self.index = {e.tokens: e for e in self.entries}
        if len(self.index) != len(self.entries):
            raise RuntimeError(f"the {what} table writes some sentence in two ways")
        self.cumulative = list(itertools.accumulate(e.prob for e in self.entries))
        if abs(self.cumulative[-1] - 1.0) > 1e-9:
            raise RuntimeError(f"the {what} table's probabilities sum to {self.cumulative[-1]}, not 1")

    def draw(self, rng: random.Random) -> Entry:
        if not isinstance(rng, random.Random):  # else "'NoneType' object has no attribute 'choices'"
            raise ValueError(f"rng must be a random.Random, e.g. random.Random(0), got {type(rng).__name__}")
        return rng.choices(self.entries, cum_weights=self.cumulative)[0]

    @property
    def entropy(self) -> float:
        """−Σ p log p over the sentences, in nats."""
        return -sum(e.prob * math.log(e.prob) for e in self.entries)

    @property
    def mean_length(self) -> float:
        """Expected number of tokens of a sentence drawn from the table."""
        return sum(e.prob * len(e.tokens) for e in self.entries)

    @property
    def longest(self) -> int:
        return max(len(e.tokens) for e in self.entries)


def _entries(entries: object) -> tuple[Entry, ...]:
    """A table's sentences: at least one ``Entry`` (else it fails inside, reading ``.tokens``)."""
    if isinstance(entries, str | bytes) or not isinstance(entries, Iterable):
        raise ValueError(f"entries must be a list of Entry, got {type(entries).__name__}")
    entries = tuple(entries)
    if not entries or not all(isinstance(e, Entry) for e in entries):
        kinds = sorted({type(e).__name__ for e in entries})
        raise ValueError(f"entries must be a non-empty list of Entry, got {len(entries)} item(s) of {kinds}")
    return entries


def cast_pairs() -> list[tuple[Character, Character]]:
    """Every ordered pair of characters a story may introduce: two different pronouns."""
    return [(a, b) for a, b in itertools.permutations(CHARACTERS, 2) if a.pronoun != b.pronoun]


@cache
def intro_table() -> Table:
    """First sentence: a template, an ordered pair of characters and a place, all uniform."""
    pairs = cast_pairs()
    p = 1 / (len(INTROS) * len(pairs) * len(PLACES))
    return Table(
        [
            _render(t, {"a": a, "b": b, "place": place}, p, (a.key, b.key, place))
            for t in INTROS
            for a, b in pairs
            for place in PLACES
        ],
        "intro",
    )


def food_table(a: str, b: str) -> Table:
    """Second sentence, after introducing ``a`` and ``b``: a template, one of the two, a food."""
    return _food_table(*_cast(a, b))


def _character(name: str, key: object) -> str:
    """A character's key ("tom", "lily" …): checked before the cache, which cannot hash a list."""
    if not isinstance(key, str) or key not in BY_KEY:
        raise ValueError(f"{name} must be one of the characters {', '.join(BY_KEY)}, got {key!r}")
    return key


def _cast(a: object, b: object) -> tuple[str, str]:
    """Two characters' keys, checked: one character twice would write each sentence twice (a
    RuntimeError inside Table, "writes some sentence in two ways", naming neither)."""
    a, b = _character("a", a), _character("b", b)
    if a == b:
        raise ValueError(f"b must be another character than a (a story's cast is two), got {b!r} twice")
    return a, b


@cache
def _food_table(a: str, b: str) -> Table:
    cast = (BY_KEY[a], BY_KEY[b])
    p = 1 / (len(FOOD_INTROS) * 2 * len(FOODS))
    return Table(
        [_render(t, {"x": x, "food": f}, p, (f,)) for t in FOOD_INTROS for x in cast for f in FOODS],
        "food",
    )


food_table.cache_clear = _food_table.cache_clear  # as when food_table was the cached one


def event_table(a: str, b: str, food: str) -> Table:
    """Every event sentence for characters ``a``, ``b`` and ``food``: a template, then each
    of its slots uniformly (x from the two; r from x and y when the template names both)."""
    _cast(a, b)
    if not isinstance(food, str) or food not in FOODS:
        raise ValueError(f"food must be one of {', '.join(FOODS)}, got {food!r}")
    return _event_table(*sorted((a, b)), food)  # who came first changes nothing in an event


@cache
def _event_table(a: str, b: str, food: str) -> Table:
    cast = (BY_KEY[a], BY_KEY[b])
    entries = []
    for t in EVENTS:
        for slots, p in _event_slots(t, cast, food):
            entries.append(_render(t, slots, p / len(EVENTS)))
    return Table(entries, "event")


@cache
def opening_stats() -> tuple[float, float]:
    """(entropy in nats, expected tokens) of a story's first two sentences."""
    intro = intro_table()
    h, n = intro.entropy, intro.mean_length
    for e in intro.entries:
        food = food_table(*e.state[:2])
        h += e.prob * food.entropy
        n += e.prob * food.mean_length
    return h, n


@cache
def event_stats() -> tuple[float, float]:
    """(entropy in nats, expected tokens) of one event, averaged over casts and foods."""
    h = n = 0.0
    for e in intro_table().entries:
        a, b, _ = e.state
        for f in food_table(a, b).entries:
            events = event_table(a, b, f.state[0])
            h += e.prob * f.prob * events.entropy
            n += e.prob * f.prob * events.mean_length
    return h, n


def _event_slots(template: str, cast: tuple[Character, Character], food: str):
    """(slots, probability within the template) for every way to fill ``template``."""
    pairs = [(cast[0], cast[1]), (cast[1], cast[0])] if "{x}" in template else [(None, None)]
    for x, y in pairs:
        if "{r}" not in template:
            refs = [None]
        elif "{y}" in template:
            refs = [x, y]
        else:
            refs = [x] if x is not None else list(cast)
        for r in refs:
            choices = r.actions if r is not None else FOODS[food] if "{adj}" in template else (None,)
            for word in choices:
                p = 1 / (len(pairs) * len(refs) * len(choices))
                yield {"x": x, "y": y, "r": r, "food": food, "act": word, "adj": word}, p


def words() -> list[str]:
    """Every token the world can write, in a fixed order (templates first, then the lists)."""
    out = [w for t in INTROS + FOOD_INTROS + EVENTS for w in t.split() if not w.startswith("{")]
    for c in CHARACTERS:
        out += [*c.name, c.pronoun, *c.actions]
    for food, adjectives in FOODS.items():
        out += [food, *adjectives]
    return list(dict.fromkeys(out + list(PLACES)))
