"""Toy tasks generated in code (nothing is downloaded), small enough to learn on a CPU.

Two families:

- **Sequence tasks** (copy, reverse, sort): a source row of symbols and the target the
  model must write, framed as ``<bos> … <eos>`` and padded with ``<pad>``. An
  encoder-decoder reads the source and writes the target one token at a time.
- **Pronoun resolution**: sentences such as "the pizza came out of the oven and it
  tasted good", with two candidate nouns; the predicate after "it" decides which noun
  "it" means ("tasted good": the pizza; "was broken": the oven). The label is the
  position of the true referent.

Every generator is deterministic for a given ``seed``, and the train and held-out splits
never share a sequence or a sentence.
"""

from __future__ import annotations

import itertools
import numbers
import random
from dataclasses import dataclass, fields

import torch

from . import _validate
from .tokenizer import Vocab

TASKS = ("copy", "reverse", "sort")
MAX_SEQUENCE_LEN = 1000  # symbols in a source row: no toy model reads longer, and counting them took forever
MAX_ROWS = 1_000_000  # num_train + num_test: drawn one at a time in Python, a million take seconds


# --- Sequence tasks: copy, reverse, sort ---


@dataclass(frozen=True)
class SequenceSplit:
    """One split of a sequence task.

    src: (N, S) ids, symbols then ``<pad>``; tgt: (N, T) ids ``<bos>`` answer ``<eos>``
    then ``<pad>``; lengths: (N,) number of symbols in each source.
    """

    src: torch.Tensor
    tgt: torch.Tensor
    lengths: torch.Tensor

    def __post_init__(self):  # made by hand, a wrong field would fail later, inside torch
        _validate.tensor("src", self.src, ndim=(1, 2), floating=False)  # 1-D: one row, split[i]
        rows = tuple(self.src.shape[:-1])
        _validate.tensor("tgt", self.tgt, floating=False)
        _validate.tensor("lengths", self.lengths, floating=False)
        for name, ndim in (("tgt", self.src.dim()), ("lengths", len(rows))):
            if getattr(self, name).dim() != ndim:  # src decides: 2-D a split, 1-D one row (split[i])
                raise ValueError(
                    f"{name} must be {ndim}-D, as src of shape {tuple(self.src.shape)} is "
                    f"{'a split' if rows else 'one row'}; got shape {tuple(getattr(self, name).shape)}"
                )
        for name in ("tgt", "lengths"):
            got = tuple(getattr(self, name).shape)
            if got[: len(rows)] != rows:
                raise ValueError(
                    f"{name} must have one row per row of src {tuple(self.src.shape)}, got shape {got}"
                )

    def __len__(self) -> int:
        return self.src.shape[0]

    def __getitem__(self, index) -> SequenceSplit:
        index = _check_index(index, len(self))
        return _part(SequenceSplit, self.src[index], self.tgt[index], self.lengths[index])


@dataclass(frozen=True)
class SequenceTask:
    """A copy/reverse/sort task with its vocabulary and two disjoint splits."""

    kind: str
    vocab: Vocab
    train: SequenceSplit
    test: SequenceSplit
    max_len: int  # the longest source row of both splits
    min_len: int = 1  # the shortest: a model trained on it has never seen other lengths

    def __post_init__(self):  # made by hand, a wrong field would fail later (task.vocab.stoi …)
        if not isinstance(self.kind, str) or self.kind not in TASKS:
            raise ValueError(f"kind must be one of {TASKS}, got {_validate.shown(self.kind)}")
        _check_parts(self, SequenceSplit)
        _validate.positive_int("min_len", self.min_len)
        _validate.positive_int("max_len", self.max_len)
        if self.max_len < self.min_len:
            raise ValueError(f"max_len must be >= min_len ({self.min_len}), got {self.max_len}")

    @property
    def symbols(self) -> list[str]:
        return self.vocab.itos[4:]

    def encode(self, symbols: list[str] | str) -> torch.Tensor:
        """Symbols ("3 1 4" or ["3", "1", "4"]) → source ids (S,); unknown symbols raise ValueError."""
        if not isinstance(symbols, str | list | tuple):
            got = type(symbols).__name__
            raise ValueError(f'symbols must be a str ("3 1 4") or a list of symbols, got {got}')
        items = symbols.split() if isinstance(symbols, str) else _validate.strings("symbols", symbols)
        unknown = [s for s in items if s not in self.vocab or self.vocab.stoi[s] < 4]
        if unknown:
            raise ValueError(f"symbols must come from {' '.join(self.symbols)}; got {_listed(unknown)}")
        if not items:
            raise ValueError("symbols must hold at least one symbol")
        return torch.tensor(self.vocab.ids(items), dtype=torch.long)

    def answer(self, symbols: list[str] | str) -> list[str]:
        """The correct output for ``symbols``, as symbols."""
        ids = self.encode(symbols).tolist()
        return self.vocab.tokens(_apply(self.kind, ids))

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Target-side ids (T,) → the symbols before the first ``<eos>`` (bos/pad dropped)."""
        out = []
        for tok in self.vocab.tokens(ids):
            if tok == "<eos>":
                break
            if tok not in ("<bos>", "<pad>"):
                out.append(tok)
        return out


def _check_parts(task: object, split: type) -> None:
    """A task's ``vocab`` is a Vocab, its ``train`` and ``test`` are splits of type ``split``."""
    _validate.instance("vocab", task.vocab, Vocab, " (the task's tokens)")
    for name in ("train", "test"):
        _validate.instance(name, getattr(task, name), split)


def _listed(words: list[str], most: int = 8, width: int = 20) -> str:
    """'a', 'b' … for a message: each word once, cut to ``width`` characters, at most ``most``
    of them (a pasted essay must not become the message)."""
    words = list(dict.fromkeys(words))
    shown = [repr(w if len(w) <= width else w[: width - 1] + "…") for w in words[:most]]
    return ", ".join(shown) + (f" and {len(words) - most} more" if len(words) > most else "")


def _check_index(index: object, n: int) -> object:
    """A row index of a split of n rows: an int in [-n, n), a slice, or integer ids in range.
    Returned as torch can index with it: int8 and int16 ids as int64 (torch refuses them,
    "tensors used as indices must be long, int, byte or bool tensors"); an int64 one unchanged."""
    if isinstance(index, slice):
        return index
    if isinstance(index, torch.Tensor) and index.dim() <= 1 and index.dtype in _INDEX_DTYPES:
        _validate.stored("index", index)  # its values are read below
        if index.numel() and (int(index.min()) < -n or int(index.max()) >= n):
            low, high = int(index.min()), int(index.max())
            raise ValueError(f"index must hold rows in [{-n}, {n}), got values from {low} to {high}")
        return index if index.dtype in (torch.int64, torch.int32) else index.long()
    if isinstance(index, torch.Tensor) and index.dim() <= 1 and index.dtype not in _INDEX_DTYPES:
        raise ValueError(  # a uint8 or bool tensor would pick rows as a mask, a float one fails
            f"index must hold row numbers as int64 (or int32, int16, int8), got dtype {index.dtype}"
        )
    return _validate.integer("index", index, low=-n, high=n)


_INDEX_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8)  # uint8 would index as a mask


def _part(cls: type, *values: object):
    """Rows of a split already checked, built without ``__post_init__`` checking them again: it
    reads every position (16 of the 50 µs of each of chapter 08's batches)."""
    part = object.__new__(cls)
    for f, value in zip(fields(cls), values, strict=True):
        object.__setattr__(part, f.name, value)
    return part


def _apply(kind: str, ids: list[int]) -> list[int]:
    if kind == "copy":
        return list(ids)
    if kind == "reverse":
        return ids[::-1]
    return sorted(ids)


def sequence_task(
    kind: str = "reverse",
    *,
    num_symbols: int = 10,
    min_len: int = 3,
    max_len: int = 8,
    num_train: int = 4000,
    num_test: int = 500,
    seed: int = 0,
) -> SequenceTask:
    """A copy, reverse or sort task over ``num_symbols`` symbols ("0", "1", …).

    Sources have min_len … max_len symbols (uniform length, then uniform symbols). The
    splits hold distinct sequences: no source appears in both. At most ``MAX_SEQUENCE_LEN``
    (1000) symbols a row and ``MAX_ROWS`` (a million) rows in all: more would run for hours.
    """
    if not isinstance(kind, str) or kind not in TASKS:  # a numpy array fails at `in`
        raise ValueError(f"kind must be one of {TASKS}, got {kind!r}")
    num_symbols = _validate.positive_int("num_symbols", num_symbols)
    min_len = _validate.positive_int("min_len", min_len)
    max_len = _validate.positive_int("max_len", max_len)
    num_train = _validate.positive_int("num_train", num_train)
    num_test = _validate.positive_int("num_test", num_test)
    seed = _validate.integer("seed", seed)
    if max_len < min_len:
        raise ValueError(f"max_len must be >= min_len ({min_len}), got {max_len}")
    if num_symbols > 26:
        raise ValueError(f"num_symbols must be at most 26, got {num_symbols}")
    if max_len > MAX_SEQUENCE_LEN:  # num_symbols**max_len below would take forever to compute
        raise ValueError(f"max_len must be at most {MAX_SEQUENCE_LEN}, got {max_len}")
    if num_train + num_test > MAX_ROWS:  # each row is drawn in Python: 10**8 would take hours
        raise ValueError(f"num_train + num_test must be at most {MAX_ROWS:,}, got {num_train + num_test:,}")
    possible = sum(num_symbols**n for n in range(min_len, max_len + 1))
    if num_train + num_test > possible // 2:
        raise ValueError(
            f"num_train + num_test ({num_train + num_test}) is too many: only "
            f"{possible} distinct sequences exist; ask for at most half of them"
        )
    symbols = [str(i) for i in range(10)][:num_symbols] + [chr(ord("a") + i) for i in range(num_symbols - 10)]
    vocab = Vocab(symbols)
    rng = random.Random(seed)
    seen: set[tuple[int, ...]] = set()
    rows: list[tuple[int, ...]] = []
    while len(rows) < num_train + num_test:
        n = rng.randint(min_len, max_len)
        row = tuple(rng.randrange(num_symbols) + 4 for _ in range(n))
        if row not in seen:
            seen.add(row)
            rows.append(row)
    return SequenceTask(
        kind,
        vocab,
        _split(kind, rows[:num_train], max_len, vocab),
        _split(kind, rows[num_train:], max_len, vocab),
        max_len,
        min_len,
    )


def _split(kind: str, rows: list[tuple[int, ...]], max_len: int, vocab: Vocab) -> SequenceSplit:
    n = len(rows)
    src = torch.full((n, max_len), vocab.pad_id, dtype=torch.long)
    tgt = torch.full((n, max_len + 2), vocab.pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        src[i, : len(row)] = torch.tensor(row)
        tgt[i, : len(row) + 2] = torch.tensor([vocab.bos_id, *_apply(kind, list(row)), vocab.eos_id])
    lengths = torch.tensor([len(r) for r in rows])
    return SequenceSplit(src, tgt, lengths)


# --- Pronoun resolution ---

# Nouns in four groups; each predicate fits exactly one group, so the predicate after
# "it" decides which of the two nouns "it" refers to.
NOUNS = {
    "food": ("pizza", "cake", "bread", "soup", "cheese"),
    "appliance": ("oven", "table", "box", "door", "window"),
    "animal": ("dog", "cat", "bird", "horse", "mouse"),
    "vehicle": ("car", "bus", "train", "truck", "bike"),
}
PREDICATES = {
    "food": ("tasted good", "was delicious", "smelled great", "was eaten"),
    "appliance": ("was broken", "was painted", "was closed", "was heavy"),
    "animal": ("was hungry", "fell asleep", "was scared", "ran away"),
    "vehicle": ("was late", "needed fuel", "was parked", "drove away"),
}
# {a} comes before {b} in the sentence; either one may be the referent.
TEMPLATES = (
    "the {a} came out of the {b} and it {p}",
    "the {a} was next to the {b} and it {p}",
    "i saw the {a} near the {b} because it {p}",
    "the {a} and the {b} were here but it {p}",
)


@dataclass(frozen=True)
class PronounSplit:
    """One split of the pronoun task.

    ids: (N, L) padded sentences; it_pos, referent_pos, distractor_pos: (N,) positions of
    "it", of the noun it refers to and of the other noun; sentences: the N texts.
    """

    ids: torch.Tensor
    it_pos: torch.Tensor
    referent_pos: torch.Tensor
    distractor_pos: torch.Tensor
    sentences: tuple[str, ...]

    def __post_init__(self):  # made by hand, a wrong field would fail later, inside torch
        _validate.tensor("ids", self.ids, ndim=(1, 2), floating=False)  # 1-D: one sentence, split[i]
        rows, length = tuple(self.ids.shape[:-1]), self.ids.shape[-1]
        for name in ("it_pos", "referent_pos", "distractor_pos"):
            pos = _validate.tensor(name, getattr(self, name), floating=False)
            if tuple(pos.shape) != rows:
                raise ValueError(
                    f"{name} must have shape {rows}, one position per sentence of ids "
                    f"{tuple(self.ids.shape)}, got {tuple(pos.shape)}"
                )
            _validate.ids_in_range(name, pos, length)  # positions in the sentences, read once here
        sentences = _validate.strings("sentences", self.sentences, "texts")
        if len(sentences) != (rows[0] if rows else 1):
            raise ValueError(
                f"sentences must hold one text per row of ids {tuple(self.ids.shape)}, got {len(sentences)}"
            )

    def __len__(self) -> int:
        return self.ids.shape[0]

    def __getitem__(self, index) -> PronounSplit:
        index = _check_index(index, len(self))
        if isinstance(index, numbers.Integral) or (isinstance(index, torch.Tensor) and index.dim() == 0):
            index = int(index)  # numpy's ints and 0-D tensors pick one sentence, as an int does
        idx = range(len(self))[index] if isinstance(index, slice) else index
        picked = [self.sentences[i] for i in (idx if not isinstance(idx, int) else [idx])]
        return _part(
            PronounSplit,
            self.ids[index],
            self.it_pos[index],
            self.referent_pos[index],
            self.distractor_pos[index],
            tuple(picked),
        )


@dataclass(frozen=True)
class PronounTask:
    vocab: Vocab
    train: PronounSplit
    test: PronounSplit

    def __post_init__(self):  # made by hand, a wrong field would fail later (task.vocab.tokens …)
        _check_parts(self, PronounSplit)

    def tokens(self, split: PronounSplit, i: int) -> list[str]:
        """The words of sentence ``i`` of ``split`` (padding dropped)."""
        if not isinstance(split, PronounSplit):
            got = type(split).__name__
            raise ValueError(f"split must be a PronounSplit (task.train or task.test), got {got}")
        i = _validate.integer("i", i, low=0, high=len(split))
        return [t for t in self.vocab.tokens(split.ids[i]) if t != "<pad>"]


def pronoun_sentences() -> list[tuple[str, int, int, int]]:
    """Every sentence of the task: (text, position of "it", of the referent, of the distractor)."""
    out = []
    for template in TEMPLATES:
        for group_a, group_b in itertools.permutations(NOUNS, 2):
            for a, b in itertools.product(NOUNS[group_a], NOUNS[group_b]):
                for referent, group in ((a, group_a), (b, group_b)):
                    for p in PREDICATES[group]:
                        text = template.format(a=a, b=b, p=p)
                        words = text.split()
                        pos_a, pos_b = words.index(a), words.index(b)
                        ref, other = (pos_a, pos_b) if referent == a else (pos_b, pos_a)
                        out.append((text, words.index("it"), ref, other))
    return out


def pronoun_task(*, num_train: int = 2000, num_test: int = 300, seed: int = 0) -> PronounTask:
    """Pronoun-resolution sentences, shuffled with ``seed`` and split without overlap."""
    num_train = _validate.positive_int("num_train", num_train)
    num_test = _validate.positive_int("num_test", num_test)
    seed = _validate.integer("seed", seed)
    rows = pronoun_sentences()
    if num_train + num_test > len(rows):
        raise ValueError(
            f"num_train + num_test must be at most {len(rows)} (every distinct "
            f"sentence), got {num_train + num_test}"
        )
    random.Random(seed).shuffle(rows)
    words = sorted({w for text, *_ in rows for w in text.split()})
    vocab = Vocab(words)
    return PronounTask(
        vocab,
        _pronoun_split(rows[:num_train], vocab),
        _pronoun_split(rows[num_train : num_train + num_test], vocab),
    )


def _pronoun_split(rows, vocab: Vocab) -> PronounSplit:
    longest = max(len(text.split()) for text, *_ in rows)
    ids = torch.full((len(rows), longest), vocab.pad_id, dtype=torch.long)
    for i, (text, *_) in enumerate(rows):
        words = text.split()
        ids[i, : len(words)] = torch.tensor(vocab.ids(words))
    col = lambda k: torch.tensor([r[k] for r in rows])
    return PronounSplit(ids, col(1), col(2), col(3), tuple(r[0] for r in rows))


def batches(num_items: int, batch_size: int, *, seed: int = 0):
    """Endless index batches (batch_size,): a fresh seeded shuffle of 0 … num_items-1 each epoch."""
    num_items = _validate.positive_int("num_items", num_items)
    batch_size = _validate.positive_int("batch_size", batch_size)
    seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's
    _validate.fits_in_memory("num_items", num_items, bytes_each=8)  # each shuffle is int64
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(num_items, generator=g)
        for start in range(0, num_items - batch_size + 1 if num_items >= batch_size else 1, batch_size):
            yield order[start : start + batch_size]
