"""Stories as a model reads them: the vocabulary of the story world and ids in and out.

``story_vocab()`` holds every token the world writes; ``encode`` turns stories into a
padded (N, length) tensor of ids, ``decode`` one row of ids back into tokens. A module of its
own: the generator (``stories``) works in words, a model in ids, and this is where one
becomes the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

from . import _validate, story_world
from .story_record import Story
from .tokenizer import BOS, EOS, PAD, Vocab

# The most positions ``encode`` pads a story to, unless a story is longer: every model of the
# course reads far fewer (chapter 09's 128), and a longer padding only builds a list of ints for
# minutes (10**9 of them: 16 GB).
MAX_LENGTH = 2**16

# --- tensors for a model ---


@lru_cache(maxsize=1)
def story_vocab() -> Vocab:
    """<pad> <unk> <bos> <eos>, then every token the world writes."""
    return Vocab(story_world.words())


def encode(stories: Sequence[Story], *, length: int | None = None) -> torch.Tensor:
    """Stories → ids (N, length), <bos> … <eos> then <pad>; length defaults to the longest, and
    may be at most ``MAX_LENGTH`` (or the longest story, where that is longer). A hand-made Story
    must start with <bos>, as the generator's do: one without it (or with no tokens) is refused,
    not encoded one prediction short."""
    if (
        isinstance(stories, (Story, str))
        or not isinstance(stories, Sequence)
        or not len(stories)
        or not all(isinstance(s, Story) for s in stories)
    ):
        raise ValueError(
            "stories must be a non-empty list of Story (StoryGenerator.sample or parse makes them), "
            f"got {type(stories).__name__}"
        )
    empty = next((i for i, s in enumerate(stories) if not s.tokens), None)
    if empty is not None:  # else a row of padding alone, or an IndexError inside torch
        raise ValueError(
            f"stories[{empty}] has no tokens: a story's tokens are <bos>, its words, <eos> "
            "(StoryGenerator.parse(text) makes one)"
        )
    longest = max(len(s.tokens) for s in stories)
    length = longest if length is None else _validate.positive_int("length", length)
    if length < longest:
        raise ValueError(f"length must be at least the longest story ({longest} tokens), got {length}")
    # a flat list of ints, then the tensor: 16 bytes a token, refused before either is made
    _validate.fits_in_memory("len(stories) × length", len(stories) * length, bytes_each=16)
    if length > max(longest, MAX_LENGTH):  # 10**9 fits in memory, and took minutes
        raise ValueError(
            f"length must be at most {MAX_LENGTH:,} positions (no model reads more; the longest story "
            f"has {longest} tokens), got {length:,}"
        )
    vocab = story_vocab()
    stoi, unk, pad = vocab.stoi, vocab.unk_id, vocab.pad_id
    # One flat list, one tensor: a row at a time took 2.5 times as long. Vocab.ids would check
    # every story's tokens again (0.25 against 0.11 s for 64,000 stories): a Story's are words.
    flat: list[int] = []
    lengths: list[int] = []
    for s in stories:
        flat += [stoi.get(t, unk) for t in s.tokens]
        lengths.append(len(s.tokens))
        flat += [pad] * (length - lengths[-1])
    ids = torch.tensor(flat, dtype=torch.long).view(len(stories), length)  # (N, length)
    if bool((ids == unk).any()):  # looked for only then: the generator writes no unknown word
        _refuse_unknown(stories, stoi)
    _check_specials(ids, torch.tensor(lengths), vocab)
    _check_bos_first(ids, vocab)
    return ids


def _check_bos_first(ids: torch.Tensor, vocab: Vocab) -> None:
    """Every row starts with <bos>: a hand-made Story without it was encoded as it was, and a
    model learned (or was scored on) its first word as if read after nothing, the row one
    prediction short of what ``num_predicted`` and the floor count."""
    missing = (ids[:, 0] != vocab.bos_id).nonzero()
    if len(missing):
        row = int(missing[0, 0])
        raise ValueError(
            f"stories[{row}].tokens[0] is {vocab.itos[int(ids[row, 0])]!r}: a story's tokens start with "
            "<bos> (add it, or make the Story with StoryGenerator.parse(tokens))"
        )


def _refuse_unknown(stories: Sequence[Story], stoi: dict[str, int]) -> None:
    """A hand-made Story's word that the world never writes (a typo: "pizzza") became <unk>
    without a word, and a model learned or was scored on a token no story has."""
    for i, s in enumerate(stories):
        for j, t in enumerate(s.tokens):
            if t not in stoi:
                raise ValueError(
                    f"stories[{i}] holds {t!r:.40} (token {j}), a word the story world does not write: "
                    "every token must be in story_vocab()"
                )


def _check_specials(ids: torch.Tensor, lengths: torch.Tensor, vocab: Vocab) -> None:
    """ids (N, length) of stories of ``lengths`` (N,) tokens: <bos> only first, <eos> only last,
    <pad> only after the tokens. A <pad> inside made story_batch_fn cut the row there, <eos>
    lost; a Story made by hand can hold any token. Counted first (64,000 stories: ~15 ms);
    the position is looked for only when one is wrong."""
    eos = ids == vocab.eos_id  # (N, length)
    last = eos.gather(1, (lengths - 1).clamp(min=0)[:, None])[:, 0] & (lengths > 0)  # (N,)
    if not (
        ((ids == vocab.pad_id).sum(dim=1) != ids.shape[1] - lengths).any()  # a <pad> inside
        or (ids[:, 1:] == vocab.bos_id).any()
        or (eos.sum(dim=1) != last.long()).any()  # an <eos> that is not the last token
    ):
        return
    pos = torch.arange(ids.shape[1])  # (length,)
    inside = pos < lengths[:, None]  # (N, length): the story's own tokens
    wrong = inside & (ids == vocab.pad_id)
    wrong |= (ids == vocab.bos_id) & (pos != 0)
    wrong |= inside & eos & (pos != lengths[:, None] - 1)
    row, at = (int(i) for i in wrong.nonzero()[0])
    raise ValueError(
        f"stories[{row}].tokens[{at}] is {vocab.itos[int(ids[row, at])]}: a story's tokens hold "
        "<bos> only first, <eos> only last and no <pad> (encode pads after them)"
    )


def decode(ids: torch.Tensor) -> list[str]:
    """ids (T,) → tokens from the first <bos> (if any) to the first <eos> included, no <pad>."""
    _validate.tensor("ids", ids, ndim=1, floating=False)
    tokens, out = story_vocab().tokens(ids), []
    if BOS in tokens:  # what comes before the first <bos> is no part of the story
        tokens = tokens[tokens.index(BOS) :]
    for tok in tokens:
        if tok != PAD:
            out.append(tok)
        if tok == EOS:
            break
    return out
