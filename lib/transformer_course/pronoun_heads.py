"""Finding the head that resolves pronouns, in a GPT nobody told about pronouns.

A story's pronouns (``stories.PronounLink``) each have a **query** position: the one whose
next-token prediction needs to know whom the pronoun means ("he" before "roared", "was"
before "cheesy"). A head that helps there looks from the query back at the referent. For
every layer and head we read the attention weights in the row of the query and compare

    on the referent:   the weight per mention: the total on every earlier mention of
                       it, divided by how many there are
    on the other noun: the same for each distractor (the other character; the oven,
                       the table, the place for "it"), the largest of these

A head **prefers the referent** at a pronoun when the first is larger. Per mention, so
that a noun named twice gets no head start: a head that spreads its weight evenly
prefers nothing (a food is usually named twice before "it", a place once, and a total
would favour the food even in an untrained model). Picking the best of many heads on
the same stories it is scored on would flatter it (with enough heads one looks good by
chance), so ``find_pronoun_head`` picks it on a **selection** set and
``PronounAttention.story_rate`` then measures it on held-out stories.

Shapes: ``referent`` and ``distractor`` are (layers, heads, P) for the P pronouns of the
stories, ``story`` (P,) says which story each pronoun is in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from . import _validate
from .logits_fns import model_fits
from .model import EncoderOnlyTransformer
from .modes import evaluating
from .stories import Story, encode
from .training import _not_finite_message, release_freed_memory

ROWS = ("query", "pronoun")  # the rows a head may be read from (see pronoun_attention)


@dataclass(frozen=True)
class PronounAttention:
    """referent, distractor: (layers, heads, P) attention weights from each pronoun's query,
    per mention (the largest over the distractors); story: (P,) its story's index;
    words: (P,) the pronoun ("he", "she", "they", "it"); num_stories: how many stories;
    at: the row read, "query" or "pronoun"."""

    referent: torch.Tensor
    distractor: torch.Tensor
    story: torch.Tensor
    words: tuple[str, ...]
    num_stories: int
    at: str = "query"

    def __post_init__(self):  # made by hand, a wrong field fails later inside torch, naming nothing
        _validate.tensor("referent", self.referent, ndim=3, floating=True)
        _validate.tensor("distractor", self.distractor, ndim=3, floating=True)
        if self.distractor.shape != self.referent.shape:
            raise ValueError(
                f"distractor must have the shape of referent {tuple(self.referent.shape)} "
                f"(layers, heads, P), got {tuple(self.distractor.shape)}"
            )
        num = _validate.positive_int("num_stories", self.num_stories)
        layers, heads, _ = self.referent.shape  # story_rate counts (layers, heads, num_stories)
        _validate.fits_in_memory("layers × heads × num_stories", layers * heads * num)
        _validate.tensor("story", self.story, ndim=1, floating=False)
        _validate.size("story", self.story, 0, self.referent.shape[-1], "one story index per pronoun")
        _validate.ids_in_range("story", self.story, num)
        if not isinstance(self.words, tuple) or len(self.words) != len(self.story):
            raise ValueError(
                f"words must be a tuple of {len(self.story)} pronoun words, got {self.words!r:.60}"
            )
        _validate.strings("words", self.words, "pronouns")
        _check_row(self.at)

    @property
    def wins(self) -> torch.Tensor:
        """(layers, heads, P): True where the head gives the referent more weight."""
        return self.referent > self.distractor

    def pronoun_rate(self) -> torch.Tensor:
        """(layers, heads): the share of pronouns at which each head prefers the referent."""
        return self.wins.float().mean(dim=-1)

    def story_rate(self) -> torch.Tensor:
        """(layers, heads): the share of stories in which each head prefers the referent at
        every one of the story's pronouns."""
        # float32 as the losses added, whatever torch's default dtype (float64: index_add_ refused)
        lost = torch.zeros(*self.wins.shape[:2], self.num_stories, dtype=torch.float32)  # (layers, heads, N)
        lost.index_add_(2, self.story, (~self.wins).float())
        return (lost == 0).float().mean(dim=-1)

    def stories_won(self, heads: Mapping[str, PronounHead]) -> float:
        """The share of stories in which, at every pronoun, the head chosen for its word
        (``heads``: word → ``PronounHead``, from ``find_pronoun_heads``) prefers the referent.
        Every head must read this row (``at``); ``stories_won`` takes heads that read both."""
        return stories_won({self.at: self}, heads)

    def rate_by_word(self, layer: int, head: int) -> dict[str, float]:
        """One head's share of pronouns won, for each pronoun word."""
        layers, heads = self.wins.shape[:2]
        layer = _validate.integer("layer", layer, low=0, high=layers)
        head = _validate.integer("head", head, low=0, high=heads)
        wins = self.wins[layer, head]
        return {
            w: float(wins[[i for i, x in enumerate(self.words) if x == w]].float().mean())
            for w in sorted(set(self.words))
        }


@dataclass(frozen=True)
class PronounHead:
    """The head chosen on the selection stories: its layer and head (from 0), its share of
    selection stories (or pronouns) won (``selection_rate``), and the row it reads (``at``)."""

    layer: int
    head: int
    selection_rate: float
    at: str = "query"

    def __post_init__(self):
        _validate.integer("layer", self.layer, low=0)
        _validate.integer("head", self.head, low=0)
        _validate.finite_number("selection_rate", self.selection_rate, at_least=0, at_most=1)
        _check_row(self.at)


def _check_row(at: object) -> None:
    if not isinstance(at, str) or at not in ROWS:
        raise ValueError(f'at must be "query" or "pronoun", got {at!r:.80}')


@torch.no_grad()
def pronoun_attention(
    model: nn.Module, stories: Sequence[Story], *, at: str = "query", batch_size: int = 64
) -> PronounAttention:
    """Run a decoder-only ``model`` (``model(ids, need_weights=True)``, then
    ``model.attention_weights()["decoder_self"]``) on ``stories`` and read, for each pronoun,
    the weight per mention every layer's heads put on its referent and on its distractors,
    in the row of its query (``at="query"``) or of the pronoun itself (``at="pronoun"``; the
    same row for he/she/they, the row of "it" rather than of "was" after it)."""
    return pronoun_readings(model, stories, at=(at,), batch_size=batch_size)[at]  # checks ``at``


@torch.no_grad()
def pronoun_readings(
    model: nn.Module, stories: Sequence[Story], *, at: str | Sequence[str] = ROWS, batch_size: int = 64
) -> dict[str, PronounAttention]:
    """``pronoun_attention`` for each row in ``at`` (row → PronounAttention), from one run of
    the model: both rows come from the same attention weights, so reading them together
    costs one forward pass instead of one per row."""
    _check_stories("stories", stories)
    batch_size = _validate.positive_int("batch_size", batch_size)
    rows = _rows(at)
    for row in rows:
        _check_row(row)
    _validate.takes("model", model, 1, "(ids), a decoder-only model such as DecoderOnlyTransformer")
    _validate.instance("model", model, nn.Module, " (a decoder-only model such as DecoderOnlyTransformer)")
    if not hasattr(model, "attention_weights") or isinstance(model, EncoderOnlyTransformer):
        _not_decoder_only(model)
    links = [(i, link) for i, s in enumerate(stories) for link in s.links]
    if not links:
        raise ValueError("stories must hold at least one pronoun")
    with evaluating(model):
        read: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {row: [] for row in rows}
        for start in range(0, len(stories), batch_size):
            part = stories[start : start + batch_size]
            ids = encode(part)
            model_fits(model, ids, "stories", ids.shape[1])  # else the model names its own "ids"
            model(ids, need_weights=True)
            weights = torch.stack(_decoder_self(model), dim=1)  # (b, layers, h, L, L)
            if not bool(torch.isfinite(weights.sum())):  # else NaN rates: every head "0 %", head 0 chosen
                raise ValueError(_not_finite_message("model", model))
            for row in rows:
                read[row].append(_read_batch(weights, part, row))
    release_freed_memory()  # the batches' attention weights, each batch cut to its own length
    story = torch.tensor([i for i, _ in links])
    words = tuple(link.word for _, link in links)
    return {
        row: PronounAttention(
            referent=torch.cat([r for r, _ in read[row]], dim=-1),  # (layers, h, P)
            distractor=torch.cat([d for _, d in read[row]], dim=-1),
            story=story,
            words=words,
            num_stories=len(stories),
            at=row,
        )
        for row in rows
    }


def _not_decoder_only(model: nn.Module) -> None:
    raise ValueError(
        "model must be a decoder-only model (DecoderOnlyTransformer), whose attention_weights() "
        f'hold "decoder_self", got {type(model).__name__}'
    )


def _decoder_self(model: nn.Module) -> list[torch.Tensor]:
    """model.attention_weights()["decoder_self"] after a forward pass: (b, h, L, L) per layer. A
    model of another kind (an encoder's "encoder_self" only) is known here at the latest: the
    keys of a model that is not one of ours may exist only once it has run."""
    weights = model.attention_weights()
    if not isinstance(weights, Mapping) or "decoder_self" not in weights:
        _not_decoder_only(model)
    return weights["decoder_self"]


def _read_batch(weights: torch.Tensor, part: Sequence[Story], at: str) -> tuple[torch.Tensor, torch.Tensor]:
    """weights (b, layers, h, L, L) of the stories ``part`` → (referent, distractor), each
    (layers, h, n) for the batch's n pronouns: the mean weight over the referent's mentions
    and the largest such mean over the distractors, in the row ``at`` of each pronoun.

    Every pronoun of the batch is read at once: a mask of each noun's mentions picks and
    sums their weights (one einsum), then the sum is divided by how many there are."""
    length = weights.shape[-1]
    links = [(i, link) for i, story in enumerate(part) for link in story.links]
    most = max((len(link.distractor_mentions) for _, link in links), default=1)
    # In the weights' dtype and on their device: einsum refuses to mix float32 and float64 (a
    # float64 model, or torch's default dtype set to float64, failed inside it).
    like = {"dtype": weights.dtype, "device": weights.device}
    on_referent = torch.zeros(len(links), length, **like)  # (n, L): 1 on each of the referent's mentions
    on_distractor = torch.zeros(len(links), most, length, **like)  # (n, d, L): the same per distractor
    counts = torch.ones(len(links), 1 + most, **like)  # (n, 1 + d): mentions of referent, distractors
    present = torch.zeros(len(links), most, dtype=torch.bool)  # (n, d): stories differ in d
    for n, (_, link) in enumerate(links):
        on_referent[n, list(link.referent_mentions)] = 1.0
        counts[n, 0] = len(link.referent_mentions)
        for d, mentions in enumerate(link.distractor_mentions):
            on_distractor[n, d, list(mentions)] = 1.0
            counts[n, 1 + d] = len(mentions)
            present[n, d] = True
    story = torch.tensor([i for i, _ in links])
    source = torch.tensor([link.query if at == "query" else link.pronoun for _, link in links])
    row = weights[story, :, :, source]  # (n, layers, h, L): each pronoun's row, every head
    referent = torch.einsum("nlhk,nk->lhn", row, on_referent) / counts[:, 0]
    distractor = torch.einsum("nlhk,ndk->lhnd", row, on_distractor) / counts[:, 1:]
    distractor = distractor.masked_fill(~present, float("-inf")).amax(dim=-1)  # (layers, h, n)
    return referent, distractor


def find_pronoun_head(
    model: nn.Module, selection: Sequence[Story], *, at: str | Sequence[str] = "query"
) -> PronounHead:
    """The layer and head that prefer the referent in the most ``selection`` stories (ties:
    the larger mean margin, referent − distractor, over the pronouns). ``at``: the row to
    read, or several, the best head of any of them winning (ties: the first row)."""
    _check_stories("selection", selection)
    best = None
    for row, seen in pronoun_readings(model, selection, at=at).items():
        head = _best(seen.story_rate(), (seen.referent - seen.distractor).mean(dim=-1), row)
        if best is None or head.selection_rate > best.selection_rate:
            best = head
    return best


def find_pronoun_heads(
    model: nn.Module, selection: Sequence[Story], *, at: str | Sequence[str] = "query"
) -> dict[str, PronounHead]:
    """For each pronoun word ("he", "it", …), the head that prefers the referent at the most of
    that word's pronouns in ``selection``: heads often share the job out by pronoun. Each
    ``PronounHead``'s ``selection_rate`` is then its share of that word's pronouns.

    ``at``: the row to read, or several (``("pronoun", "query")``) to let the selection
    stories decide, for each word, where its head looks from (for "it" the model may find
    the food from "it" itself or from "was" after it; for he/she/they the rows are one).
    """
    _check_stories("selection", selection)
    readings = pronoun_readings(model, selection, at=at)
    out = {}
    for row, seen in readings.items():
        for word in sorted(set(seen.words)):
            mine = [i for i, w in enumerate(seen.words) if w == word]
            margin = (seen.referent[..., mine] - seen.distractor[..., mine]).mean(dim=-1)
            best = _best(seen.wins[..., mine].float().mean(dim=-1), margin, row)
            if word not in out or best.selection_rate > out[word].selection_rate:  # ties: the first row
                out[word] = best
    return out


def stories_won(readings: Mapping[str, PronounAttention], heads: Mapping[str, PronounHead]) -> float:
    """The share of stories in which, at every pronoun, the head chosen for its word prefers the
    referent. ``readings``: row → ``pronoun_attention(model, stories, at=row)`` of the same
    stories, for every row the ``heads`` (word → ``PronounHead``) read."""
    _check_readings(readings, heads)
    first = next(iter(readings.values()), None)
    if first is None:
        raise ValueError("readings must hold at least one PronounAttention")
    _check_same_stories(readings)
    missing = sorted(set(first.words) - set(heads))
    if missing:
        raise ValueError(f"heads must name a head for every pronoun word, missing {missing}")
    rows = sorted({heads[w].at for w in set(first.words)} - set(readings))
    if rows:
        raise ValueError(f"readings must hold the rows the heads read, missing {rows}")
    layers, per_layer = first.wins.shape[:2]
    for w in set(first.words):  # a head the model does not have would fail as an IndexError
        _validate.integer(f"heads[{w!r}].layer", heads[w].layer, low=0, high=layers)
        _validate.integer(f"heads[{w!r}].head", heads[w].head, low=0, high=per_layer)
    won = torch.stack(
        [readings[heads[w].at].wins[heads[w].layer, heads[w].head, i] for i, w in enumerate(first.words)]
    )
    lost = torch.zeros(first.num_stories, dtype=torch.float32)  # (N,), as the losses added below
    lost.index_add_(0, first.story, (~won).float())
    return float((lost == 0).float().mean())


def _check_readings(readings: object, heads: object) -> None:
    """row → PronounAttention and word → PronounHead, as pronoun_readings and
    find_pronoun_heads make them."""
    if not isinstance(readings, Mapping) or not all(
        isinstance(r, PronounAttention) for r in readings.values()
    ):
        raise ValueError(
            "readings must be a dict of row → PronounAttention (from pronoun_readings), "
            f"got {_kind(readings)}"
        )
    if not isinstance(heads, Mapping) or not all(isinstance(h, PronounHead) for h in heads.values()):
        raise ValueError(
            f"heads must be a dict of word → PronounHead (from find_pronoun_heads), got {_kind(heads)}"
        )


def _check_same_stories(readings: Mapping[str, PronounAttention]) -> None:
    """Every reading of the stories of the first, by the same model: its rows are indexed by the
    first's pronouns, so another's failed as an IndexError, or gave a share that meant nothing."""
    (key, first), *others = readings.items()
    for row, seen in others:
        differ = [
            what
            for what, same in (
                ("num_stories", seen.num_stories == first.num_stories),
                ("story", torch.equal(seen.story, first.story)),  # (P,) the same shape too
                ("words", seen.words == first.words),
                ("(layers, heads)", seen.wins.shape[:2] == first.wins.shape[:2]),
            )
            if not same
        ]
        if differ:
            raise ValueError(
                f"readings must all be of the same stories (pronoun_readings of one list), but "
                f"readings[{row!r}] and readings[{key!r}] differ in {', '.join(differ)}"
            )


def _check_stories(name: str, stories: object) -> None:
    """A non-empty list of Story (``name``: the caller's argument, "stories" or "selection")."""
    if (
        isinstance(stories, str)
        or not isinstance(stories, Sequence)
        or not len(stories)
        or not all(isinstance(s, Story) for s in stories)
    ):
        raise ValueError(
            f"{name} must be a non-empty list of Story (StoryGenerator.sample makes one), "
            f"got {_got(name, stories)}"
        )


def _got(name: str, stories: object) -> str:
    """What ``stories`` is, for a message: an empty list, or the first element that is no Story."""
    if isinstance(stories, Sequence) and not isinstance(stories, str):
        at = next((i for i, s in enumerate(stories) if not isinstance(s, Story)), None)
        if at is None:
            return f"an empty {type(stories).__name__}"
        kind, bad = type(stories).__name__, stories[at]
        return f"a {kind} holding {type(bad).__name__} ({name}[{at}] = {_validate.shown(bad)})"
    return type(stories).__name__


def _kind(value: object) -> str:
    """A dict's kind with its first value's ("dict of int"), else the type's name."""
    if isinstance(value, Mapping) and value:
        return f"a dict of {type(next(iter(value.values()))).__name__}"
    return type(value).__name__


def _rows(at: object) -> tuple[str, ...]:
    """``at`` as a non-empty tuple of rows ("query", "pronoun"); each one is checked where it is read."""
    rows = (at,) if isinstance(at, str) else tuple(at) if isinstance(at, (list, tuple)) else None
    if not rows or not all(isinstance(row, str) for row in rows):  # a numpy array fails at `in`
        raise ValueError(f'at must be "query", "pronoun" or a non-empty list of them, got {at!r}')
    return tuple(dict.fromkeys(rows))  # each once: ("query", "query") would read every pronoun twice


def _best(rate: torch.Tensor, margin: torch.Tensor, at: str) -> PronounHead:
    """rate, margin (layers, heads) → the head with the highest rate (ties: the larger margin)."""
    best = max(range(rate.numel()), key=lambda k: (float(rate.flatten()[k]), float(margin.flatten()[k])))
    layer, head = divmod(best, rate.shape[1])
    return PronounHead(layer, head, float(rate[layer, head]), at)
