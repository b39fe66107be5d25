"""Attention as it forms (chapter 08): scrub through training, the pronoun pointer and its encoder.

``AttentionHistoryExplorer`` is handed the ``pointer.snapshot(...)`` dicts taken while the
pointer trained and only draws them: nothing here trains.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import torch

from .. import _validate, figures
from ..figures import _args as figures_args
from .kit import Explorer, SelectionSlider, quote, shown_word, token_labels

SNAPSHOT_KEYS = ("pointer", "encoder", "wins", "predicate")  # what pointer.snapshot keeps
ENCODER_HEIGHT = 460  # px at least: the history's heads, as tall as both rows of figures on a slide
# The pointer head's axis reaches this far above its 0–1 bars. On a slide the chart shares a
# row with the two curves and its plot is about 105 px tall: at pointer_figure's 1.12 the value
# of a full bar ("1.00", 16 px) was drawn 7 px past the plot's top (review 51 H2); at 1.35 it
# has about 27 px above the bar.
POINTER_TOP = 1.35


def _opening(words: list[str], n: int, limit: int = 48) -> str:
    """The first ``n`` words, cut after a whole word to at most ``limit`` characters, with "…"
    where the sentence goes on (a word cut in half may read as another: "broke" for "broken")."""
    shown: list[str] = []
    for word in (shown_word(w) for w in words[:n]):  # a pasted essay of a word: cut, visible
        if len(" ".join([*shown, word])) > limit - 2:
            break
        shown.append(word)
    return " ".join(shown) + (" …" if len(shown) < len(words) else "")


class AttentionHistoryExplorer(Explorer):
    """Chapter 08. Scrub through training: how the attention from "it" formed.

    ``snapshots``: step → ``pointer.snapshot(...)`` dict (pointer (n, L), encoder
    (n, h, L, L), wins, predicate (h,)); ``sentences``: the n shown sentences as token
    lists, with the positions of "it", the referent and the distractor. The encoder is
    shown head by head (a mean over heads hides what each one does), and beside it how
    much of each head's "it" row sits on the predicate, the words after "it".
    """

    def __init__(
        self,
        snapshots: Mapping[int, dict],
        sentences: list[list[str]],
        it_pos: list[int],
        referent_pos: list[int],
        distractor_pos: list[int],
    ):
        self.snapshots = _snapshots(snapshots)
        if not isinstance(sentences, list | tuple):
            raise ValueError(f"sentences must be a list of token lists, got {type(sentences).__name__}")
        sentences = [_validate.strings(f"sentences[{i}]", s, "tokens") for i, s in enumerate(sentences)]
        positions = {"it_pos": it_pos, "referent_pos": referent_pos, "distractor_pos": distractor_pos}
        for name, values in positions.items():
            if not hasattr(values, "__len__"):
                raise ValueError(
                    f"{name} must be a list of positions, one per sentence, got {type(values).__name__}"
                )
        n = len(sentences)
        if any(len(p) != n for p in positions.values()) or n == 0:
            raise ValueError(
                "sentences, it_pos, referent_pos and distractor_pos must have the "
                f"same, non-zero length; got {n}, {len(it_pos)}, {len(referent_pos)}, "
                f"{len(distractor_pos)}"
            )
        _fits_snapshots(sentences, self.snapshots)
        # Each a token of its sentence (int lists, one-element tensors too: position() takes both).
        it_pos, referent_pos, distractor_pos = (
            [_validate.position(f"{name}[{i}]", p, len(sentences[i])) for i, p in enumerate(values)]
            for name, values in positions.items()
        )
        for i, (ref, other) in enumerate(zip(referent_pos, distractor_pos, strict=True)):
            if ref == other:  # accepted here, it failed at draw time in pointer_figure (a traceback)
                raise ValueError(
                    f"distractor_pos[{i}] must differ from referent_pos[{i}] (sentence {i}: "
                    f"{_opening(sentences[i], len(sentences[i]))!r}), got position {other} for both"
                )
        self.sentences, self.it_pos = sentences, it_pos
        self.referent_pos, self.distractor_pos = referent_pos, distractor_pos
        steps = list(self.snapshots)
        options = [(_opening(s, it_pos[i] + 3), i) for i, s in enumerate(sentences)]
        super().__init__(
            controls={
                "step": SelectionSlider(
                    options=steps, value=steps[0], description="step", layout=widgets.Layout(width="360px")
                ),
                "sentence": widgets.Dropdown(
                    options=options, value=0, description="sentence", layout=widgets.Layout(width="420px")
                ),
            },
            views={"pointer": "figure", "encoder": "figure", "predicate": "figure", "wins": "figure"},
        )
        # A heatmap per head: a row of its own on a page. On a slide (static/course.css) its
        # eleven rows need the height of both rows of figures: it takes the right half of the
        # slide, the pointer head the left half of the top row, the two curves under it.
        self.views["encoder"].add_class("tc-wide-on-page")
        self.views["encoder"].add_class("tc-tall-on-slide")
        self.views["pointer"].add_class("tc-wide-on-slide")
        # On a page the pointer head a row of its own too: beside the encoder's row it stood
        # alone in the first, next to an empty cell (on a slide it spans two columns either way).
        self.views["pointer"].add_class("tc-wide-on-page")

    def render(self):
        step, i = self.value("step"), self.value("sentence")
        snap = self.snapshots[step]
        tokens = token_labels(self.sentences[i])  # as labels and the note show them
        n = len(tokens)
        weights = snap["pointer"][i, :n]
        ref, other, it = self.referent_pos[i], self.distractor_pos[i], self.it_pos[i]
        shares = ", ".join(f"head {h} {float(v):.0%}" for h, v in enumerate(snap["predicate"]))
        self.note(
            f'Step {step}: "it" gives {float(weights[ref]):.2f} to {quote(tokens[ref])} (the referent) '
            f"and {float(weights[other]):.2f} to {quote(tokens[other])}. Held-out sentences where the "
            f"referent wins: {snap['wins']:.0%}. In the encoder, averaged over the held-out sentences, "
            f'"it" puts this share of its weight on the words after it: {shares}.'
        )
        encoder = snap["encoder"][i, :, :n, :n]  # (h, n, n)
        steps = list(self.snapshots)
        heads = range(encoder.shape[0])
        pointer = figures.pointer_figure(
            weights,
            tokens,
            referent=ref,
            distractor=other,
            source=it,
            title=f"Pointer head, step {step}",
            top=POINTER_TOP,
        )
        return {
            "pointer": pointer,
            "encoder": figures.head_grid_figure(
                encoder,
                tokens,
                columns=len(heads),
                # Layer 0, as its index (pointer.encoder_attention()[0]) and ModelExplorer count it.
                title=f"Encoder layer 0, head by head, step {step}",
                height=ENCODER_HEIGHT,
            ),
            "predicate": figures.progress_curves_figure(
                steps,
                {f"head {h}": [float(self.snapshots[s]["predicate"][h]) for s in steps] for h in heads},
                current=step,
                title='On the words after "it"',  # short: a quarter of a slide wide, at 16 px
                y_title="% of the row's weight",
            ),
            "wins": figures.progress_curve_figure(
                steps,
                [self.snapshots[s]["wins"] for s in steps],
                current=step,
                title="Held-out: referent wins",
                y_title="% of sentences",
            ),
        }


def _snapshots(snapshots: object) -> dict[int, Mapping]:
    """``snapshots`` checked by name (a dict step → ``pointer.snapshot(...)``), sorted by step."""
    if not isinstance(snapshots, Mapping):
        raise ValueError(
            f"snapshots must be a dict step → pointer.snapshot(...), got {type(snapshots).__name__}"
        )
    if not snapshots:
        raise ValueError("snapshots must hold at least one training step")
    missing = [
        step
        for step, snap in snapshots.items()
        if not isinstance(snap, Mapping) or any(key not in snap for key in SNAPSHOT_KEYS)
    ]
    if missing:
        raise ValueError(
            f"snapshots must come from pointer.snapshot (with {', '.join(map(repr, SNAPSHOT_KEYS))}); "
            f"steps {missing} lack one"
        )
    for step in snapshots:  # the slider's options, sorted: a str or a NaN among ints cannot be
        # >= 0, as the progress curves draw them (0: before training): a step of -5 was taken
        # here and refused at draw time ("Could not update the figures").
        _validate.integer("every step of snapshots", step, low=0)
    checked = {int(step): _snapshot(step, snap) for step, snap in sorted(snapshots.items())}
    heads = {step: snap["encoder"].shape[1] for step, snap in checked.items()}
    if len(set(heads.values())) > 1:  # the predicate curves follow each head through every step
        raise ValueError(f"snapshots must all have the same number of encoder heads, got {heads} by step")
    return checked


def _snapshot(step: int, snap: Mapping) -> dict:
    """One ``pointer.snapshot(...)`` dict checked by name (``snapshots[step]['encoder']`` …), its
    tensors detached on the CPU (a snapshot taken on CUDA or with gradients draws as well):
    pointer (n, L) and encoder (n, h, L, L) weights, wins a fraction, predicate (h,) shares."""
    name = f"snapshots[{step!r}]"
    pointer = _weights(f"{name}['pointer']", snap["pointer"], 2)
    # Each row the pointer head's softmax, drawn by pointer_figure on a 0–1 axis: checked here by
    # name, not refused at draw time (a traceback from inside render).
    figures_args.probabilities(f"{name}['pointer']", pointer, ndim=2, distribution=True)
    encoder = _weights(f"{name}['encoder']", snap["encoder"], 4)
    n, length = pointer.shape
    if encoder.shape[0] != n or encoder.shape[2:] != (length, length):
        raise ValueError(
            f"{name}['encoder'] must be (n, h, L, L) = ({n}, h, {length}, {length}) for its pointer of "
            f"shape (n, L) = {tuple(pointer.shape)}, got shape {tuple(encoder.shape)}"
        )
    predicate = snap["predicate"]
    if not isinstance(predicate, torch.Tensor) or predicate.shape != (encoder.shape[1],):
        got = tuple(predicate.shape) if isinstance(predicate, torch.Tensor) else type(predicate).__name__
        raise ValueError(
            f"{name}['predicate'] must be a tensor of one share per head, ({encoder.shape[1]},), got {got}"
        )
    predicate = _validate.finite_tensor(f"{name}['predicate']", predicate.detach().cpu().float(), at_least=0)
    if bool((predicate > 1).any()):  # shares of a row's weight, drawn as % (refused there at draw time)
        raise ValueError(
            f"{name}['predicate'] must hold shares in [0, 1], one per head, got {float(predicate.max()):g}"
        )
    wins = snap["wins"]
    if isinstance(wins, torch.Tensor) and wins.numel() == 1:
        wins = wins.item()
    wins = _validate.finite_number(f"{name}['wins']", wins, at_least=0, at_most=1)
    return {**snap, "pointer": pointer, "encoder": encoder, "predicate": predicate, "wins": wins}


def _weights(name: str, weights: object, ndim: int) -> torch.Tensor:
    """Attention weights of ``ndim`` dimensions: finite and >= 0, detached on the CPU."""
    weights = _validate.tensor(name, weights, ndim=ndim)
    weights = _validate.real_values(name, weights.detach().cpu())
    return _validate.finite_tensor(name, weights, at_least=0)


def _fits_snapshots(sentences: list[list[str]], snapshots: Mapping[int, Mapping]) -> None:
    """Each sentence has a row in every snapshot, as long as it is: pointer (n, L) holds the
    weights of n sentences padded to L tokens (a longer list would show other sentences' rows)."""
    for step, snap in snapshots.items():
        rows, length = tuple(getattr(snap["pointer"], "shape", (0, 0)))[:2]
        if len(sentences) > rows:
            raise ValueError(
                f"sentences must be at most the {rows} sentences the snapshots were taken on "
                f"(step {step}), got {len(sentences)}"
            )
        longest = max(len(s) for s in sentences)
        if longest > length:
            raise ValueError(
                f"sentences must have at most {length} tokens (the snapshots' rows, step {step}), "
                f"got one of {longest}"
            )
