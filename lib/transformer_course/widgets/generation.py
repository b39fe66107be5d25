"""Decoding (chapter 08): a trained encoder-decoder writes its answer one token at a time.

``GenerationExplorer`` is handed a trained ``Transformer`` and its ``SequenceTask`` and only
runs it, greedy or sampled: nothing here trains.
"""

from __future__ import annotations

import itertools

import ipywidgets as widgets
import torch

from .. import _validate, figures, generation
from ..data import SequenceTask
from ..model import Transformer
from .kit import Explorer, InputError, counted, evaluating, text_box


def one_token_left(gen: generation.Generation) -> bool:
    """Whether every step of ``gen`` drew from a distribution with a single token left (a tiny
    temperature or top-p): a draw that no seed can change."""
    return all(int((step.probs > 0).sum()) == 1 for step in gen.steps)


def one_left_note(temperature: float, top_p: float = 1.0) -> str:
    """Why only the likeliest token was left at every step: the knobs that sharpen or cut the
    distribution (top-k above 1 keeps more than one), else the model itself, that sure."""
    causes = [f"temperature {temperature:g}"] * (temperature < 1) + [f"top-p {top_p:g}"] * (top_p < 1)
    who = " and ".join(causes) or "the model's own distribution (it is that sure)"
    advice = f": raise the {' or '.join(c.split()[0] for c in causes)} to draw." if causes else "."
    why = "left only the likeliest token at every step, so the seed changes nothing"
    return f"{who[:1].upper()}{who[1:]} {why}{advice}"


def no_symbol_note(chosen: list[str]) -> str:
    """Why an answer came out empty, given the tokens the model chose (``chosen``, in order): it
    wrote <eos> first, or only tokens an answer leaves out (<bos>, <pad>). Untrained models do
    both, and a learner who saw only "(nothing)" could not tell the model from the explorer."""
    if chosen[:1] == ["<eos>"]:
        return (
            "The model wrote <eos> (the end of an answer) at its first step: untrained models "
            "often stop at once."
        )
    runs = [(token, len(list(group))) for token, group in itertools.groupby(chosen)]
    wrote = ", ".join(f"{token} ×{n}" if n > 1 else token for token, n in runs)
    return (
        f"The model wrote only {wrote}: tokens that mark where a row starts, ends or is padded, "
        "which an answer leaves out. Untrained models often do; training teaches them the symbols."
    )


def same_as_greedy_note(temperature: float, seed: int) -> str:
    """Why a sampled answer looks like the greedy one: it is the greedy one, token for token."""
    return (
        f"This sample (seed {seed}) is the greedy answer, token for token: at temperature "
        f"{temperature:g} the model is so sure of each token that the draw took the likeliest every "
        "time. Raise the temperature (or try other seeds) to see sampling write something else."
    )


class GenerationExplorer(Explorer):
    """Chapter 08. Watch a trained encoder-decoder write its answer one token at a time.

    Type the source symbols; pick greedy or sampled decoding, the temperature, top-k and
    the random seed; the step slider picks which step's distribution the bars show.
    State for tests: ``generation`` (the last ``generation.Generation``).
    """

    MODULES = ("model",)

    def __init__(
        self, model: torch.nn.Module, task, text: str = "1 2 3 4 5", *, max_new_tokens: int | None = None
    ):
        """``model``: an encoder-decoder ``Transformer`` trained on ``task``, a ``SequenceTask``; run
        in eval mode, and handed back in the mode it came in (``evaluating``)."""
        _validate.instance("model", model, Transformer, " (an encoder-decoder: it reads the source)")
        _validate.instance("task", task, SequenceTask, " (e.g. data.sequence_task())")
        if model.config.vocab_size != len(task.vocab):  # its ids would be read as other symbols
            raise ValueError(
                f"model must have the task's vocabulary (vocab_size {len(task.vocab)}), "
                f"got vocab_size {model.config.vocab_size}"
            )
        need = max(2, task.max_len)  # its longest source; <bos> and one new token in the decoder
        if model.config.max_len < need:  # a model trained on the task reads its rows
            raise ValueError(
                f"model must read the task's longest rows ({task.max_len} symbols): config.max_len "
                f"must be at least {need}, got {model.config.max_len}"
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
                "text": text_box(
                    "text", text, description="source", style=wide, layout=widgets.Layout(width="260px")
                ),
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
        if not self.value("text").split():
            raise InputError(
                "The source box is empty: type at least one symbol, several separated by spaces, "
                "e.g. '3 1 4'."
            )
        try:
            src = self.task.encode(self.value("text"))
        except ValueError as err:
            # The task's words name its argument, not the box: say which box it is.
            raise InputError(
                f"In the source box, {err}. Type symbols separated by spaces, e.g. '3 1 4'."
            ) from None
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
        device = next(self.model.parameters()).device
        with evaluating(self.model):
            logits_fn = generation.seq2seq_logits_fn(self.model, src.unsqueeze(0).to(device))

            def write(strategy: str) -> generation.Generation:
                return generation.generate(
                    logits_fn,
                    torch.tensor([vocab.bos_id], device=device),
                    max_new_tokens=self.max_new_tokens,
                    strategy=strategy,
                    temperature=self.value("temperature"),
                    top_k=top_k,
                    eos_id=vocab.eos_id,
                    seed=self.value("seed"),
                )

            gen = write(self.value("strategy"))
            # A draw that came out as the greedy answer looks, in front of a class, like a dead
            # toggle (review 51: "sample" at T = 1 changed nothing visible): the note says why.
            greedy = write("greedy") if self._draws() else None
        self.generation = gen
        chosen = [s.chosen for s in gen.steps]
        k = self.fit_slider("step", len(gen.steps))
        written = self.task.decode(gen.ids)
        verdict = "correct" if written == self.task.answer(self.value("text")) else "wrong"
        steps = f"{counted(len(gen.steps), 'step')}, each one a run of the decoder."
        if written:
            self.note(f"Output: {' '.join(written)} ({verdict}); {steps}")
        else:  # "(nothing)" alone read like a fault of the explorer
            self.note(f"Output: nothing ({verdict}). {no_symbol_note(vocab.tokens(chosen))} {steps}")
        self._note_knobs_that_do_nothing(gen)
        if greedy is not None and gen.ids.tolist() == greedy.ids.tolist() and not one_token_left(gen):
            self.note(same_as_greedy_note(self.value("temperature"), self.value("seed")), key="as-greedy")
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

    def _draws(self) -> bool:
        """Whether this render draws at random: sampling, at a temperature above 0, top-k not 1."""
        return (
            self.value("strategy") == "sample" and self.value("temperature") > 0 and self.value("top_k") != 1
        )

    def _note_knobs_that_do_nothing(self, gen: generation.Generation) -> None:
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
        greedy = self.value("strategy") == "greedy" or self.value("temperature") == 0
        if not greedy and self.value("top_k") != 1 and one_token_left(gen):
            self.note(one_left_note(self.value("temperature")), key="one-left")
