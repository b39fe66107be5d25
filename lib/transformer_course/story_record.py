"""A story as ``StoryGenerator`` hands it over: ``Story`` and its pronouns (``PronounLink``).

Each sampled ``Story`` lists its pronouns (``PronounLink``): where each is, where its
referent was last named, where the other candidates were, and the query position whose
next-token prediction needs the referent. Positions index ``story.tokens``, which start
with ``<bos>`` at 0, so they are positions in the model's input too.

A module of its own: the generator (``stories``) writes and reads stories, while this is
what a story is once written, what the pronoun probes (``pronoun_heads``) read.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain

from . import _validate
from .story_world import BY_KEY, FOODS, Entry
from .tokenizer import BOS, EOS


@dataclass(frozen=True)
class PronounLink:
    """One pronoun of a story; every field is a position in ``story.tokens``.

    pronoun: where "he"/"she"/"they"/"it" is; referent: the last mention of what it
    means before it; distractors: the last mention of each other noun it could mean in
    English (the other character for he/she/they; the oven, the table, the place for
    "it"); query: the position whose next-token prediction needs the referent (the
    pronoun itself before an action, "was" before an adjective). referent_mentions and
    distractor_mentions (one tuple per distractor) hold every mention before the pronoun:
    a head may look at any of them, so attention is best summed over them.
    """

    pronoun: int
    referent: int
    distractors: tuple[int, ...]
    query: int
    word: str
    referent_mentions: tuple[int, ...]
    distractor_mentions: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Story:
    """tokens: ("<bos>", words and punctuation..., "<eos>"); log_prob: ln p(story);
    sentences: the table entries it was made of."""

    tokens: tuple[str, ...]
    log_prob: float
    sentences: tuple[Entry, ...] = field(repr=False)

    def __post_init__(self):
        # Made by hand, a wrong field would fail later, inside encode or links, naming nothing.
        # Cheap checks only: the generator makes one Story per story it writes.
        if not isinstance(self.tokens, tuple) or not all(isinstance(t, str) for t in self.tokens):
            raise ValueError(f"tokens must be a tuple of token strings, got {_kind(self.tokens)}")
        if not _log_probability(self.log_prob):
            got = _validate.shown(self.log_prob)
            raise ValueError(f"log_prob must be a log-probability, a number <= 0, got {got}")
        if not isinstance(self.sentences, tuple) or not all(isinstance(e, Entry) for e in self.sentences):
            raise ValueError(
                f"sentences must be a tuple of story_world.Entry (table entries), got {_kind(self.sentences)}"
            )
        # links index tokens by the sentences' lengths: tokens that are not the sentences' failed
        # as an IndexError inside pronoun_readings. A Story of tokens alone (no sentences, so no
        # links) is taken as it is, even without <bos> or with no tokens: the recogniser reads its
        # words, while encode and lm_training.floor_on, which count its predictions, refuse it.
        # One tuple compared: sample(64000) takes ~5 % longer.
        if self.sentences:
            expected = (BOS, *chain.from_iterable(e.tokens for e in self.sentences), EOS)
            if self.tokens != expected:
                where = _first_difference(self.tokens, expected)
                raise ValueError(f"tokens must be <bos>, its sentences' tokens, <eos>: {where}")

    @cached_property
    def links(self) -> tuple[PronounLink, ...]:
        """Every pronoun of the story, in order (worked out on first use)."""
        start, mentions, links = 1, {}, []
        for entry in self.sentences:
            for offset, noun in entry.mentions:
                mentions.setdefault(noun, []).append(start + offset)
            for pro, noun, query in entry.links:
                links.append(_link(start + pro, noun, start + query, mentions, entry.tokens[pro]))
            start += len(entry.tokens)
        return tuple(links)

    @property
    def text(self) -> str:
        return " ".join(self.tokens[1:-1])

    @property
    def num_predicted(self) -> int:
        """Tokens a model predicts: every one after <bos>, <eos> included (none in a Story of no
        tokens, made by hand: not -1)."""
        return max(len(self.tokens) - 1, 0)


def _kind(value: object) -> str:
    """A tuple's kind with its first wrong item's ("tuple holding int"), else the type's name."""
    if isinstance(value, tuple):
        wrong = [type(v).__name__ for v in value if not isinstance(v, str | Entry)]
        return f"a tuple holding {wrong[0]}" if wrong else "a tuple of the wrong kind of item"
    return type(value).__name__


def _first_difference(tokens: tuple[str, ...], expected: tuple[str, ...]) -> str:
    """Where ``tokens`` first differ from ``expected`` (they do), said for an error message."""
    i = next(
        (i for i, (a, b) in enumerate(zip(tokens, expected)) if a != b), min(map(len, (tokens, expected)))
    )
    got = repr(tokens[i]) if i < len(tokens) else "nothing (the tokens end)"
    want = repr(expected[i]) if i < len(expected) else "nothing (they end)"
    return (
        f"{len(expected)} tokens, got {len(tokens)}, the first wrong at position {i}: "
        f"{got} where the sentences have {want}"
    )


def _link(pronoun: int, noun: str, query: int, mentions: dict[str, list[int]], word: str) -> PronounLink:
    before = {k: tuple(p for p in ps if p < pronoun) for k, ps in mentions.items()}
    if noun in BY_KEY:  # a character: the other character is the distractor
        others = [k for k, ps in before.items() if ps and k in BY_KEY and k != noun]
    else:  # "it" → the food: the things and places are the distractors
        others = [k for k, ps in before.items() if ps and k not in BY_KEY and k not in FOODS]
    others.sort(key=lambda k: before[k][-1])
    return PronounLink(
        pronoun,
        before[noun][-1],
        tuple(before[k][-1] for k in others),
        query,
        word,
        before[noun],
        tuple(before[k] for k in others),
    )


def _log_probability(value: object) -> bool:
    """A real number <= 0, not NaN (an int beyond a float's range, -10**400, is none either:
    math.isnan cannot take it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return not math.isnan(value) and value <= 0
    except OverflowError:
        return False
