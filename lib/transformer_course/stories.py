"""A corpus the course writes itself: short stories with known probabilities.

``StoryGenerator`` samples stories of the pizza/Squatch world (``story_world``) and,
because it knows the probability of every choice it makes, also answers exactly:

- ``log_prob(story)``: the log-probability of a story (−inf if it could not write it);
- ``is_story(story)``: could it have written this? ("does the model write grammatical
  stories?" becomes a number); ``first_mistake(story)`` says where a text that is not a
  story goes wrong, and what a story has there instead;
- ``next_token_probs(prefix)``: the true distribution of the next token after a prefix;
- ``entropy_per_token()``: the **floor** of next-token loss. A story is ``<bos>``, its
  words and punctuation, ``<eos>``; the tokens that count are every one after ``<bos>``
  up to and including ``<eos>`` (the ones a model predicts). Over many stories the mean
  loss per token of any model is at least H(story) / E[tokens], the entropy of a story
  divided by its expected number of counted tokens, reached only by the true next-token
  distribution. The grammar is unambiguous (each story has one derivation), so
  p(story) is the product of its choices and of its next-token conditionals alike.

Each sampled ``Story`` lists its pronouns (``PronounLink``): what a story is once written
is ``story_record``'s, and the ids a model reads (``story_vocab``, ``encode``, ``decode``)
are ``story_ids``'s; all of them can be imported from here too. ``split`` draws a training
set and held-out stories that are not in it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from . import _validate, story_world
from .story_ids import decode, encode, story_vocab
from .story_record import PronounLink, Story
from .story_world import FOODS, Entry
from .tokenizer import BOS, EOS, PAD, Vocab, tokenize

__all__ = [  # Story, PronounLink and the ids are part of stories' interface too
    "MAX_EVENTS", "MAX_HELD_OUT_DRAWS", "MAX_STORIES", "Mistake", "PronounLink", "Story", "StoryGenerator",
    "check_count", "decode", "encode", "split", "story_vocab",
]  # fmt: skip


@dataclass(frozen=True)
class Mistake:
    """Where a text stops being a story: ``position`` in its tokens (``<bos>`` at 0, as in
    ``Story.tokens``), the ``token`` found there, and ``allowed``: every token a story could
    have there instead, token → probability (most likely first; empty after ``<eos>``)."""

    position: int
    token: str
    allowed: dict[str, float]

    def __str__(self) -> str:
        if not self.allowed:
            return f"{self.token!r} at token {self.position}, after the story's <eos>"
        likely = [repr(w) for w in list(self.allowed)[:4]] + (["…"] if len(self.allowed) > 4 else [])
        return f"{self.token!r} at token {self.position}, where a story has {' or '.join(likely)}"


MAX_EVENTS = 1000  # events per story: longer ones would take minutes to write, and no model reads them


@dataclass(frozen=True)
class StoryGenerator:
    """Stories of an introduction, a food sentence and ``min_events`` … ``max_events``
    events (the number uniform), then ``<eos>``.

    The defaults (two events, about 34 tokens a story) are what chapter 09's one-block model
    of width 64 learns to within a few thousandths of a nat of the floor in its 2,000 steps
    (about half a minute on one CPU thread); more events make longer stories and slower
    training, not a harder pronoun problem.
    """

    min_events: int = 2  # every event holds a pronoun: two per story
    max_events: int = 2  # a fixed count: <eos> always comes after the fourth "."

    def __post_init__(self):
        # Kept as Python ints: numpy's were kept as given, and every probability came out np.float64
        for name in ("min_events", "max_events"):
            object.__setattr__(self, name, _validate.positive_int(name, getattr(self, name)))
        if self.max_events < self.min_events:
            raise ValueError(f"max_events must be >= min_events ({self.min_events}), got {self.max_events}")
        if self.max_events > MAX_EVENTS:  # each event is a sentence of up to 13 tokens
            raise ValueError(f"max_events must be at most {MAX_EVENTS}, got {self.max_events}")

    # --- sampling ---

    def sample(self, num_stories: int, *, seed: int = 0) -> list[Story]:
        """``num_stories`` stories drawn with their own ``random.Random(seed)``."""
        check_count("num_stories", num_stories)
        seed = _validate.integer("seed", seed)  # an int: random.Random refuses numpy's
        rng = random.Random(seed)
        return [self._sample_one(rng) for _ in range(num_stories)]

    def _sample_one(self, rng: random.Random) -> Story:
        intro = story_world.intro_table().draw(rng)
        a, b, _ = intro.state
        food = story_world.food_table(a, b).draw(rng)
        chosen = [intro, food]
        events = story_world.event_table(a, b, food.state[0])
        while True:
            chosen.append(events.draw(rng))
            if rng.random() < self._stop_prob(len(chosen) - 2):
                break
        return self._story(chosen)

    def _stop_prob(self, num_events: int) -> float:
        """P(<eos> after ``num_events`` events): makes the number uniform on min … max."""
        if num_events < self.min_events:
            return 0.0
        return 1.0 / (self.max_events - num_events + 1)

    def _story(self, chosen: list[Entry]) -> Story:
        tokens = [BOS]
        for entry in chosen:
            tokens += entry.tokens
        tokens.append(EOS)
        n = len(chosen) - 2  # events; then the stop decisions: go on after 1 … n-1, stop after n
        logp = sum(e.log_prob for e in chosen) + math.log(self._stop_prob(n))
        logp += sum(math.log(1 - self._stop_prob(k)) for k in range(1, n))
        return Story(tuple(tokens), logp, tuple(chosen))

    # --- scoring and recognising ---

    def parse(self, story: str | Sequence[str]) -> Story | None:
        """The ``Story`` (with its log-probability and pronoun links) if the generator could
        have written ``story``, else None. ``story``: text, or tokens with or without
        ``<bos>`` first and ``<eos>`` last."""
        words = _words(story)
        if words is None:
            return None
        sentences = _sentences(words)
        if sentences is None or not self.min_events <= len(sentences) - 2 <= self.max_events:
            return None
        chosen = []
        for sentence in sentences:
            entry = _table_for(chosen).index.get(sentence)
            if entry is None:
                return None
            chosen.append(entry)
        return self._story(chosen)

    def is_story(self, story: str | Sequence[str]) -> bool:
        """True when the generator could have written ``story`` (probability > 0)."""
        return self.parse(story) is not None

    def first_mistake(self, story: str | Sequence[str], *, finished: bool = True) -> Mistake | None:
        """The first token of ``story`` (text, or tokens with or without ``<bos>``) that no
        story could have where it is, given the tokens before it; None if there is none.

        ``finished``: the text is a whole story, so its end counts as ``<eos>`` where none is
        written (a text that stops early goes wrong there, ``token`` "<eos>"), and then
        ``first_mistake(s) is None`` exactly when ``is_story(s)``. With ``finished=False``
        the text may stop anywhere: None when it is the start of some story."""
        _validate.boolean("finished", finished)
        tokens = _tokens(story)
        if finished and tokens[-1] != EOS:
            tokens.append(EOS)  # a whole story ends with <eos>, written or not
        # The sentences read so far are kept, parsed once, as the tokens go by: asking
        # next_token_probs(tokens[1:i]) parsed the whole prefix again at every i, a time that grew
        # with the square of the length (11.6 s for a story of 8,731 tokens).
        chosen: list[Entry] = []  # the complete sentences before token i
        partial: list[str] = []  # the words of the sentence token i belongs to, before it
        for i in range(1, len(tokens)):
            token, allowed = tokens[i], self._after(chosen, partial)
            if allowed.get(token, 0.0) == 0.0:
                ranked = sorted(allowed.items(), key=lambda kv: -kv[1])
                return Mistake(i, token, {w: p for w, p in ranked if p > 0})
            if token == EOS:  # the story is over: nothing may follow
                return Mistake(i + 1, tokens[i + 1], {}) if i + 1 < len(tokens) else None
            partial.append(token)
            if token == ".":  # allowed, so the sentence is one of its table's
                chosen.append(_table_for(chosen).index[tuple(partial)])
                partial = []
        return None

    def log_prob(self, story: str | Sequence[str]) -> float:
        """ln p(story) in nats; -inf for a story the generator cannot write."""
        parsed = self.parse(story)
        return -math.inf if parsed is None else parsed.log_prob

    def next_token_probs(self, prefix: str | Sequence[str]) -> dict[str, float]:
        """The exact distribution of the token after ``prefix`` (text or tokens, ``<bos>``
        optional): token → probability, the probabilities summing to 1."""
        words = _words(prefix, allow_eos=False, name="prefix")
        if words is None:
            raise ValueError(f"prefix must be text or tokens without <eos> or <pad>, got {prefix!r}")
        *complete, partial = _split_at_periods(words)
        chosen = []
        for sentence in complete:
            entry = _table_for(chosen).index.get(sentence) if len(chosen) < 2 + self.max_events else None
            if entry is None:
                raise ValueError(
                    f"prefix is not the start of any story: {' '.join(sentence)!r} cannot follow"
                )
            chosen.append(entry)
        return self._after(chosen, list(partial))

    def _after(self, chosen: list[Entry], partial: list[str]) -> dict[str, float]:
        """``next_token_probs`` after the sentences ``chosen`` and the words ``partial`` of the
        next one, already parsed."""
        n, stop = len(chosen) - 2, 0.0
        if partial and n >= self.max_events:
            raise ValueError(f"prefix is not the start of any story: {self.max_events} events end a story")
        if not partial and n >= 1:
            stop = self._stop_prob(n)
        probs = {EOS: stop} if stop else {}
        if stop < 1.0:
            matching = [e for e in _table_for(chosen).entries if e.tokens[: len(partial)] == tuple(partial)]
            total = sum(e.prob for e in matching)
            if not matching:
                raise ValueError(f"prefix is not the start of any story: {' '.join(partial)!r} cannot follow")
            for e in matching:
                word = e.tokens[len(partial)]
                probs[word] = probs.get(word, 0.0) + (1 - stop) * e.prob / total
        return probs

    def next_token_tensor(self, prefix: str | Sequence[str], vocab: Vocab | None = None) -> torch.Tensor:
        """``next_token_probs`` as a tensor (V,) over ``vocab`` (default ``story_vocab()``), to
        set beside a model's distribution; a word the vocabulary lacks counts as ``<unk>``."""
        vocab = story_vocab() if vocab is None else vocab
        if not isinstance(vocab, Vocab):
            raise ValueError(f"vocab must be a Vocab (story_vocab() makes one), got {type(vocab).__name__}")
        exact = self.next_token_probs(prefix)  # word → probability
        ids = torch.tensor(vocab.ids(list(exact)), dtype=torch.long)
        return torch.zeros(len(vocab)).index_add_(0, ids, torch.tensor(list(exact.values())))

    # --- the floor ---

    def mean_events(self) -> float:
        return (self.min_events + self.max_events) / 2

    def entropy(self) -> float:
        """H(story) in nats, exactly: the introduction, the food sentence given the cast,
        each event given the cast and the food, and the number of events (which the place
        of <eos> tells)."""
        h = story_world.opening_stats()[0] + self.mean_events() * story_world.event_stats()[0]
        return h + math.log(self.max_events - self.min_events + 1)

    def mean_tokens(self) -> float:
        """E[tokens counted per story]: words and punctuation, plus <eos>."""
        return story_world.opening_stats()[1] + self.mean_events() * story_world.event_stats()[1] + 1

    def entropy_per_token(self) -> float:
        """The floor: H(story) / E[tokens], in nats per token."""
        return self.entropy() / self.mean_tokens()

    def max_tokens(self) -> int:
        """The longest story, ``<bos>`` and ``<eos>`` included (a model's max_len)."""
        intro = story_world.intro_table()
        opening = max(len(e.tokens) + story_world.food_table(*e.state[:2]).longest for e in intro.entries)
        pairs = story_world.cast_pairs()
        event = max(story_world.event_table(a.key, b.key, f).longest for a, b in pairs for f in FOODS)
        return 2 + opening + self.max_events * event


# --- the grammar's tables, in the order a story uses them ---


MAX_STORIES = 1_000_000  # about half a GB of Story objects, drawn in a minute on a laptop CPU
MAX_HELD_OUT_DRAWS = 5 * MAX_STORIES  # draws split may make to find held-out stories


def check_count(name: str, value: object) -> int:
    """A number of stories to draw: a positive int, and not so many that the kernel runs out of memory."""
    value = _validate.positive_int(name, value)
    if value > MAX_STORIES:
        raise ValueError(
            f"{name} must be at most {MAX_STORIES:,} (a million stories take about half a GB and a "
            f"minute to draw), got {value:,}"
        )
    return value


def _table_for(chosen: list[Entry]) -> story_world.Table:
    """The table of the sentence that follows ``chosen`` (intro, food, then events)."""
    if not chosen:
        return story_world.intro_table()
    a, b, _ = chosen[0].state
    if len(chosen) == 1:
        return story_world.food_table(a, b)
    return story_world.event_table(a, b, chosen[1].state[0])


def _words(story, *, allow_eos: bool = True, name: str = "story") -> list[str] | None:
    """Text or tokens → the words between an optional <bos> and an optional <eos>."""
    words = _tokens(story, name=name)[1:]
    if allow_eos and words[-1:] == [EOS]:
        words = words[:-1]
    return None if any(w in (BOS, EOS, PAD) for w in words) else words


def _tokens(story, *, name: str = "story") -> list[str]:
    """Text or tokens → the tokens, ``<bos>`` first (added where it is missing); ``name``: the
    argument's name in the error."""
    if isinstance(story, str):
        words = tokenize(story)
    elif isinstance(story, Story):  # one the generator wrote or parsed: its tokens
        words = list(story.tokens)
    elif isinstance(story, Sequence) and all(isinstance(w, str) for w in story):
        words = list(story)
    else:
        raise ValueError(
            f"{name} must be text or a sequence of token strings (or a Story), got {type(story).__name__}"
        )
    return words if words[:1] == [BOS] else [BOS, *words]


def _split_at_periods(words: list[str]) -> list[tuple[str, ...]]:
    """Sentences ending with "." and, last, what follows the last "." (maybe empty)."""
    out, current = [], []
    for w in words:
        current.append(w)
        if w == ".":
            out.append(tuple(current))
            current = []
    return [*out, tuple(current)]


def _sentences(words: list[str]) -> list[tuple[str, ...]] | None:
    *complete, rest = _split_at_periods(words)
    return None if rest or not complete else complete


# --- train and held-out stories ---


def split(
    generator: StoryGenerator, num_train: int, num_test: int, *, seed: int = 0
) -> tuple[list[Story], list[Story]]:
    """(train, held-out): i.i.d. stories; no held-out story is also a training story."""
    check_count("num_train", num_train)
    check_count("num_test", num_test)
    seed = _validate.integer("seed", seed)  # an int: random.Random refuses numpy's
    if not isinstance(generator, StoryGenerator):
        raise ValueError(f"generator must be a StoryGenerator, got {type(generator).__name__}")
    train = generator.sample(num_train, seed=seed)
    seen = {s.tokens: s.log_prob for s in train}
    unseen = 1 - sum(math.exp(lp) for lp in seen.values())  # the chance a draw is not a training story
    if num_test > unseen * MAX_HELD_OUT_DRAWS:  # else the loop below would draw for hours, or forever
        raise ValueError(
            f"num_test must be smaller, or num_train: the {len(seen):,} training stories hold "
            f"{1 - unseen:.4%} of what this generator writes, so {num_test:,} other stories would "
            f"take about {num_test / max(unseen, 1e-300):,.0f} draws"
        )
    rng, test = random.Random(f"held-out {seed}"), []
    while len(test) < num_test:
        story = generator._sample_one(rng)
        if story.tokens not in seen:
            test.append(story)
    return train, test
