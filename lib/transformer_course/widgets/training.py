"""Training and generation (chapter 08): the loss while it trains, attention as it forms, decoding.

Each explorer is handed what training produced (a ``History``, snapshots, a trained model)
and only draws it: nothing here trains.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import ipywidgets as widgets
import torch

from .. import _validate, figures, generation
from ..data import SequenceTask
from ..model import Transformer
from .kit import (
    Explorer,
    InputError,
    SelectionSlider,
    checkbox,
    counted,
    int_slider,
    quote,
    shown_word,
    text_box,
)

SNAPSHOT_KEYS = ("pointer", "encoder", "wins", "predicate")  # what pointer.snapshot keeps
ENCODER_HEIGHT = 460  # px: the history's heads, as tall as both rows of figures on a slide


class LiveLossCurve(Explorer):
    """Chapter 08. The loss curve of a training run, redrawn while it trains.

    Pass ``update`` as the ``callback`` of ``training.train``: every call redraws the
    curve from the ``History``. Controls: the running-mean window and a log scale.
    Chapter 09 adds ``floor`` (the best loss possible, a dotted line) and the held-out
    losses the callback records in ``history.evals[validation]`` (markers).
    State for tests: ``history``.
    """

    def __init__(
        self,
        total_steps: int | None = None,
        *,
        title: str = "Training loss",
        smoothing: int = 20,
        floor: float | None = None,
        floor_label: str = "floor",
        validation: str = "held-out",
    ):
        self.history = None
        if total_steps is not None:  # None: the x axis grows with the steps
            total_steps = _validate.positive_int("total_steps", total_steps)
        if floor is not None:  # a loss is never below 0
            floor = _validate.finite_number("floor", floor, at_least=0)
        self.total_steps, self.title = total_steps, _validate.text("title", title)
        self.floor, self.floor_label = floor, _validate.text("floor_label", floor_label)
        # the key of history.evals whose losses are drawn as markers
        self.validation = _validate.text("validation", validation)
        super().__init__(
            controls={
                "smoothing": int_slider(
                    "smoothing", smoothing, 1, 100, description="mean over", continuous_update=False
                ),
                "log": checkbox("log", False, description="log scale"),
            },
            views={"loss": "figure"},
        )

    def update(self, history) -> None:
        """Redraw from ``history`` (a ``training.History``); the training callback."""
        self.history = history
        self.refresh()

    def render(self):
        h = self.history
        if h is not None and not all(hasattr(h, a) for a in ("steps", "losses", "smoothed", "evals")):
            raise InputError(
                f"update() needs the training.History that train() passes to its callback, "
                f"got {type(h).__name__}: pass callback=curve.update to train()."
            )
        problem = None if h is None else _history_problem(h, self.validation)
        if problem:
            raise InputError(problem)
        log = self.value("log")
        floor = self._floor(log)
        if h is None or not len(h):
            fig = figures.loss_curve_figure(
                [],
                [],
                title=self.title,
                total_steps=self.total_steps,
                log_y=log,
                floor=floor,
                floor_label=self.floor_label,
            )
            self.note("Waiting for the first training steps…")
            return {"loss": fig}
        window = self.value("smoothing")
        smoothed = h.smoothed(window)
        n = min(window, len(h))  # the steps the smoothed value averages
        mean = f"mean of the last {n} steps: {_loss(smoothed[-1])}" if n > 1 else "not smoothed"
        self.note(f"step {h.steps[-1]}: loss {_loss(h.last_loss)} ({mean}).")
        if not math.isfinite(h.last_loss):
            self.note("Training diverged: train again with a smaller learning rate.")
        if log:
            self._note_unplottable(h.losses)
        return {
            "loss": figures.loss_curve_figure(
                h.steps,
                h.losses,
                smoothed=smoothed,
                log_y=log,
                title=self.title,
                total_steps=self.total_steps,
                floor=floor,
                floor_label=self.floor_label,
                validation=h.evals.get(self.validation),
            )
        }

    def _floor(self, log: bool) -> float | None:
        """The floor line to draw: none on a log scale when it is 0, which a log axis has no
        place for (log 0 = −∞; the figure refuses it), said in a note."""
        if log and self.floor is not None and self.floor <= 0:
            self.note(
                f"The {quote(self.floor_label, 48)} line at {self.floor:g} cannot be drawn on a log "
                "scale (log 0 = −∞): untick 'log scale' to see it.",
                key="floor",
            )
            return None
        return self.floor

    def _note_unplottable(self, losses: list) -> None:
        """A log axis leaves out losses of 0 or below (a perfect fit, a hand-made history): say
        so, rather than a curve with gaps, or no curve at all, and no word why."""
        low = sum(1 for loss in losses if float(loss) <= 0)
        if low:
            self.note(
                f"{counted(low, 'step')} with a loss of 0 or below cannot be drawn on a log scale "
                "(log 0 = −∞): untick 'log scale' to see them.",
                key="log",
            )


def _history_problem(h, validation: str) -> str | None:
    """What keeps the curve from drawing ``h``, a History filled by hand (train() fills it
    right): lists out of step, a step or loss that is no plain number, held-out losses that are
    no (step, loss) pairs. None when it can be drawn. Checked here, so the message names the
    history, not the figure's arguments, and a loss tensor that needs gradients is never
    float()-ed (PyTorch warns on stderr)."""
    if len(h.losses) != len(h.steps):
        losses = f"{len(h.losses)} loss{'' if len(h.losses) == 1 else 'es'}"
        return f"The history has {counted(len(h.steps), 'step')} but {losses}: record one loss per step."
    for name, values in (("steps", h.steps), ("losses", h.losses)):
        odd = [v for v in values if not _plain_number(v) or (name == "steps" and not math.isfinite(v))]
        if odd:
            fix = _fix(odd[0]) if name == "losses" else ""
            return f"history.{name} must hold plain numbers, got {_shown(odd[0])}{fix}."
    points = h.evals.get(validation)
    if points is not None and not (
        isinstance(points, list | tuple)
        and all(isinstance(p, list | tuple) and len(p) == 2 and all(map(_plain_number, p)) for p in points)
    ):
        return (
            f"history.evals[{quote(validation, 48)}] must be a list of (step, loss) pairs, "
            f"got {_shown(points)}."
        )
    return None


def _plain_number(value: object) -> bool:
    """A number the curve can draw and the info line can write: a Python or NumPy int or float
    that a float holds (not 10**400), or a 0-d real tensor without gradients (one with them
    is the loss itself, recorded before ``.item()``). Not a bool, a Fraction (which format
    strings refuse) or a tensor of shape (1,)."""
    if isinstance(value, torch.Tensor):
        real = value.dtype != torch.bool and not value.is_complex()
        return value.dim() == 0 and not value.requires_grad and real
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or type(value).__name__ == "bool_":
        return False
    if not (isinstance(value, int | float) or type(value).__module__ == "numpy"):
        return False  # a Fraction, a Decimal: numbers, but not ones the curve's text can format
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _shown(value: object) -> str:
    """A value for a message: its repr, invisible characters spelled out, cut to 60 characters."""
    return shown_word(repr(value), 60)


def _fix(value: object) -> str:
    """What to record instead of ``value``, where it is a loss tensor."""
    return ": record loss.item(), the loss as a plain number" if isinstance(value, torch.Tensor) else ""


def _loss(value: float) -> str:
    """A loss for the info line: 4 decimals, or 4 digits once it has diverged (1e+12, not 13
    digits and 4 decimals); nan and inf as they are."""
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"


def _opening(words: list[str], n: int, limit: int = 48) -> str:
    """The first ``n`` words, cut after a whole word to at most ``limit`` characters, with "…"
    where the sentence goes on (a word cut in half may read as another: "broke" for "broken")."""
    shown: list[str] = []
    for word in words[:n]:
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

    def render(self):
        step, i = self.value("step"), self.value("sentence")
        snap = self.snapshots[step]
        tokens = self.sentences[i]
        n = len(tokens)
        weights = snap["pointer"][i, :n]
        ref, other, it = self.referent_pos[i], self.distractor_pos[i], self.it_pos[i]
        shares = ", ".join(f"head {h} {float(v):.0%}" for h, v in enumerate(snap["predicate"]))
        self.note(
            f"Step {step}: \"it\" gives {float(weights[ref]):.2f} to '{tokens[ref]}' (the referent) "
            f"and {float(weights[other]):.2f} to '{tokens[other]}'. Held-out sentences where the "
            f"referent wins: {snap['wins']:.0%}. In the encoder, averaged over the held-out sentences, "
            f'"it" puts this share of its weight on the words after it: {shares}.'
        )
        encoder = snap["encoder"][i, :, :n, :n]  # (h, n, n)
        steps = list(self.snapshots)
        heads = range(encoder.shape[0])
        return {
            "pointer": figures.pointer_figure(
                weights, tokens, referent=ref, distractor=other, source=it, title=f"Pointer head, step {step}"
            ),
            "encoder": figures.head_grid_figure(
                encoder,
                tokens,
                columns=len(heads),
                title=f"Encoder layer 1, head by head, step {step}",
                height=ENCODER_HEIGHT,
            ),
            "predicate": figures.progress_curves_figure(
                steps,
                {f"head {h}": [float(self.snapshots[s]["predicate"][h]) for s in steps] for h in heads},
                current=step,
                title='Share on the words after "it"',  # short: a quarter of a slide wide
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
    return dict(sorted(snapshots.items()))


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


class GenerationExplorer(Explorer):
    """Chapter 08. Watch a trained encoder-decoder write its answer one token at a time.

    Type the source symbols; pick greedy or sampled decoding, the temperature, top-k and
    the random seed; the step slider picks which step's distribution the bars show.
    State for tests: ``generation`` (the last ``generation.Generation``).
    """

    def __init__(
        self, model: torch.nn.Module, task, text: str = "1 2 3 4 5", *, max_new_tokens: int | None = None
    ):
        """``model``: an encoder-decoder ``Transformer`` trained on ``task``, a ``SequenceTask``."""
        _validate.instance("model", model, Transformer, " (an encoder-decoder: it reads the source)")
        _validate.instance("task", task, SequenceTask, " (e.g. data.sequence_task())")
        if model.config.vocab_size != len(task.vocab):  # its ids would be read as other symbols
            raise ValueError(
                f"model must have the task's vocabulary (vocab_size {len(task.vocab)}), "
                f"got vocab_size {model.config.vocab_size}"
            )
        self.model, self.task = model, task
        if max_new_tokens is None:
            max_new_tokens = task.max_len + 1  # the longest answer, and its <eos>
        self.max_new_tokens = _validate.positive_int("max_new_tokens", max_new_tokens)
        room = generation.max_positions(model)  # the <bos> takes one of the target's positions
        if room is not None:
            self.max_new_tokens = min(self.max_new_tokens, room - 1)
        self.generation = None
        wide = {"description_width": "initial"}
        super().__init__(
            controls={
                "text": text_box("text", text, description="source", layout=widgets.Layout(width="260px")),
                "strategy": widgets.ToggleButtons(
                    options=["greedy", "sample"], value="greedy", style={"button_width": "auto"}
                ),
                "temperature": widgets.FloatSlider(
                    value=1.0,
                    min=0.0,
                    max=3.0,
                    step=0.05,
                    description="temperature",
                    style=wide,
                    readout_format=".2f",
                    continuous_update=False,
                ),
                "top_k": widgets.IntSlider(
                    value=0,
                    min=0,
                    max=len(task.vocab),
                    description="top-k (0 = all)",
                    style=wide,
                    continuous_update=False,
                ),
                "seed": widgets.IntSlider(value=0, min=0, max=20, description="seed", style=wide),
                "step": widgets.IntSlider(
                    value=1, min=1, max=self.max_new_tokens, description="step", style=wide
                ),
            },
            views={"steps": "figure", "distribution": "figure"},
        )

    def render(self):
        try:
            src = self.task.encode(self.value("text"))
        except ValueError as err:
            raise InputError(f"{err}. Type symbols separated by spaces, e.g. '3 1 4'.") from None
        low, high = self.task.min_len, self.task.max_len
        if src.shape[0] > high:
            raise InputError(
                f"The source has {src.shape[0]} symbols; the model was trained on rows of {low} to "
                f"{high}. Try a shorter one."
            )
        if src.shape[0] < low:
            self.note(
                f"The model was trained on rows of {low} to {high} symbols only: {src.shape[0]} is "
                "shorter than anything it has seen, so expect it to get the answer (or the moment "
                "to stop) wrong."
            )
        vocab = self.task.vocab
        top_k = self.value("top_k") or None
        self.model.eval()
        device = next(self.model.parameters()).device
        gen = generation.generate(
            generation.seq2seq_logits_fn(self.model, src.unsqueeze(0).to(device)),
            torch.tensor([vocab.bos_id], device=device),
            max_new_tokens=self.max_new_tokens,
            strategy=self.value("strategy"),
            temperature=self.value("temperature"),
            top_k=top_k,
            eos_id=vocab.eos_id,
            seed=self.value("seed"),
        )
        self.generation = gen
        chosen = [s.chosen for s in gen.steps]
        slider = self.controls["step"]
        slider.max = len(gen.steps)
        k = min(slider.value, len(gen.steps))
        written = self.task.decode(gen.ids)
        verdict = "correct" if written == self.task.answer(self.value("text")) else "wrong"
        self.note(
            f"Output: {' '.join(written) or '(nothing)'} ({verdict}); "
            f"{counted(len(gen.steps), 'step')}, each one a run of the decoder."
        )
        self._note_knobs_that_do_nothing()
        labels = [f"{i + 1}: {vocab.itos[c]}" for i, c in enumerate(chosen)]
        step = gen.steps[k - 1]
        prefix = step.prefix.tolist()
        so_far = ("…" if len(prefix) > 4 else "") + " ".join(vocab.itos[j] for j in prefix[-4:])
        return {
            "steps": figures.generation_figure(
                gen.probs(), labels, vocab.itos, chosen, title="Every step's distribution"
            ),
            "distribution": figures.next_token_figure(
                step.probs, vocab.itos, chosen=step.chosen, title=f"Step {k} after {so_far}"
            ),
        }

    def _note_knobs_that_do_nothing(self) -> None:
        """Say which controls cannot change the answer when nothing is drawn at random."""
        if self.value("strategy") == "greedy":
            self.note(
                "Greedy decoding takes the likeliest token at every step: temperature, top-k and "
                "the seed change nothing (choose sample to draw).",
                key="knobs",
            )
        elif self.value("temperature") == 0:
            self.note(
                "At temperature 0 sampling takes the likeliest token: top-k and the seed change nothing.",
                key="knobs",
            )
        elif self.value("top_k") == 1:
            self.note("With top-k 1 only the likeliest token is left: the seed changes nothing.", key="knobs")
        elif self.value("top_k") >= len(self.task.vocab):  # the slider's end: every token
            self.note(
                f"top-k {self.value('top_k')} keeps every token of the vocabulary, as 0 does: it "
                "changes nothing.",
                key="knobs",
            )
