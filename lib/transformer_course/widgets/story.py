"""A GPT that writes (chapter 09): prompt it, turn the sampling knobs, see why it chose each word.

The explorer is handed a trained ``DecoderOnlyTransformer`` and only runs it: nothing here
trains. It writes with the KV cache (``generation.cached_logits_fn``), then runs the story
once more with ``need_weights`` to read every head's attention.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import torch

from .. import _validate, figures, generation
from ..model import DecoderOnlyTransformer
from ..stories import Mistake, StoryGenerator
from ..tokenizer import BOS, PAD, UNK, Vocab
from .generation import one_left_note, one_token_left
from .kit import (
    Explorer,
    counted,
    evaluating,
    quote,
    quote_list,
    read_sentence,
    text_box,
    token_labels,
    unknown_note,
)

# The first token no story could have there: struck through in the theme's error colour (the
# text keeps its own colour, so its contrast is the theme's).
MISTAKE = "text-decoration:line-through;text-decoration-color:var(--jp-error-color1,#b91c1c)"
EXAMPLE = "lily and tom were in the park ."  # what an empty prompt box is told to try
PROMPT = "lily and tom were in the park . tom bought a pizza . the pizza came out of the oven and"


# Plotly keeps the words under bars upright while their boxes do not overlap (autotickangles):
# words that touch count as fitting, and "clapped played" read as one in the lab's third of a page
# (review 51 M5). A no-break space each side makes each word's box the wider by a space: words
# with less than two spaces between them slant, as they do on a slide.
WORD_ROOM = "\u00a0"


def spaced_words(fig):
    """``fig`` with a no-break space either side of each word under its bars (``WORD_ROOM``)."""
    text = fig.layout.xaxis.ticktext
    if text:
        fig.update_xaxes(ticktext=[f"{WORD_ROOM}{t}{WORD_ROOM}" for t in text])
    return fig


class StoryExplorer(Explorer):
    """Chapter 09. Type the start of a story; the model writes on.

    Controls: the prompt; temperature (0 = greedy), top-k (0 = every token), top-p (1 = every
    token) and the seed of the draws; ``step``, which new token to look into. Views: the story
    (prompt, then what the model wrote, underlined), the likeliest tokens at that step (with
    the stories' own probabilities when a ``generator`` is given), and each head's attention
    from the last token before it, over everything before it.
    The model runs in eval mode and is handed back in the mode it came in (``evaluating``); heads
    are named "layer 0 head 3", counted from 0 as their index.
    With a ``generator``, the info line gives its verdict on the story and, where the story
    goes wrong, which token first did and what a story has there (struck through in the story).
    State for tests: ``generation`` (the last ``generation.Generation``), ``accepted`` (the
    generator's verdict on a finished story, else None), ``mistake`` (the generator's
    ``first_mistake`` of the text so far, else None).
    """

    MODULES = ("model",)

    def __init__(
        self,
        model: DecoderOnlyTransformer,
        vocab: Vocab,
        *,
        generator: StoryGenerator | None = None,
        prompt: str = PROMPT,
        seed: int = 0,
        max_new_tokens: int = 24,
    ):
        _validate.instance("model", model, DecoderOnlyTransformer)
        _validate.instance("vocab", vocab, Vocab)
        if model.config.vocab_size != len(vocab):  # its ids would be read as other words
            raise ValueError(
                f"vocab must be the model's vocabulary: the model has vocab_size "
                f"{model.config.vocab_size}, got a vocab of {len(vocab)} tokens"
            )
        if model.config.max_len < 3:  # <bos>, a word of prompt, a new token
            raise ValueError(
                "model must read at least 3 positions (<bos>, a prompt word and a new token), got "
                f"config.max_len {model.config.max_len}"
            )
        if generator is not None and not isinstance(generator, StoryGenerator):
            raise ValueError(f"generator must be a StoryGenerator or None, got {type(generator).__name__}")
        # Numpy's ints too. More new tokens than the model has positions for are cut to what fits
        # (``_write``), as GenerationExplorer does.
        max_new_tokens = _validate.positive_int("max_new_tokens", max_new_tokens)
        seed = _validate.int_between("seed", seed, 0, 99)  # the seed slider's range
        self.model, self.vocab, self.generator = model, vocab, generator
        self.max_new_tokens = max_new_tokens
        self.generation: generation.Generation | None = None
        self._knobs: tuple | None = None  # what self.generation was written with
        self.accepted: bool | None = None
        self.mistake: Mistake | None = None
        wide = {"description_width": "initial"}

        def slider(kind, value, low, high, step, text):
            return kind(
                value=value,
                min=low,
                max=high,
                step=step,
                description=text,
                style=wide,
                continuous_update=False,
                layout=widgets.Layout(width="380px"),  # room for the track after a long description
            )

        super().__init__(
            controls={
                "text": self._prompt_box(prompt),
                "temperature": slider(widgets.FloatSlider, 1.0, 0.0, 2.0, 0.05, "temperature (0 = greedy)"),
                "top_k": slider(widgets.IntSlider, 0, 0, len(vocab), 1, "top-k (0 = all)"),
                "top_p": slider(widgets.FloatSlider, 1.0, 0.05, 1.0, 0.05, "top-p (1 = all)"),
                "seed": slider(widgets.IntSlider, seed, 0, 99, 1, "seed"),
                "step": slider(widgets.IntSlider, 1, 1, max_new_tokens, 1, "look at new token"),
            },
            views={"story": "html", "distribution": "figure", "attention": "figure"},
        )
        # A column per token so far: a row of its own on a page (a slide keeps it beside the bars).
        self.views["attention"].add_class("tc-wide-on-page")

    @staticmethod
    def _prompt_box(prompt: str) -> widgets.Text:
        """The prompt's box, wide enough on a slide (text at 16 px) for the chapter's whole prompt
        beside the temperature slider: at 620 px, behind the slide's 130 px label column, it
        showed "… the pizza came" and hid "out of the oven and", where the model writes on. The
        label is as wide as its word (the sliders' labels are too)."""
        return text_box(
            "prompt",
            prompt,
            description="prompt",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="700px"),
        )

    # --- one update ---

    def render(self):
        prompt, typed = self._prompt()
        knobs = (
            tuple(prompt.tolist()),
            *(self.value(n) for n in ("temperature", "top_k", "top_p", "seed")),
            self._weights_state(),
        )
        if knobs != self._knobs:  # moving only the step slider looks into the same story
            self.generation, self._knobs = self._write(prompt), knobs
        gen = self.generation
        k = self.fit_slider("step", len(gen.steps))  # 1-based: the k-th new token
        step = gen.steps[k - 1]
        words = self.vocab.tokens(gen.ids)  # what the model read and wrote
        # the same with the prompt as typed (visible: invisible characters spelled out)
        shown = [BOS, *token_labels(typed), *words[len(prompt) :]]
        self._note_tokens_no_story_has(words[len(prompt) :])
        finished = gen.steps[-1].chosen == self.vocab.eos_id
        self.accepted = self._verdict(words, shown, len(prompt), finished=finished)
        t = len(step.prefix)
        chosen, before = words[t], " ".join(shown[max(1, t - 4) : t])
        p, knobs = f"{step.chosen_prob:.2f}", self._knobs_text()
        how = f"the likeliest (probability {p})," if self._greedy() else f"drawn with probability {p}"
        if knobs:
            how += f" from the model's distribution reshaped by {knobs},"
        self.note(f"New token {k} of {len(gen.steps)}: '{chosen}', {how} after '… {before}'.")
        self._note_knobs_that_do_nothing(gen)
        return {
            "story": self._story_html(shown, len(prompt), len(step.prefix)),
            "distribution": spaced_words(
                figures.likeliest_tokens_figure(
                    step.probs,
                    self.vocab.itos,
                    chosen=step.chosen,
                    true_probs=self._true_probs(words[: len(step.prefix)]),
                    title=f"Token {k}: the likeliest next tokens",
                    top=8,  # readable in half a slide's width; the rest hold next to nothing
                    # what the token was drawn from (the info line says how the knobs shaped it)
                    name="model, reshaped" if self._knobs_text() else "model",
                )
            ),
            "attention": self._attention_figure(gen.ids, words, len(step.prefix) - 1, chosen),
        }

    def _weights_state(self) -> tuple:
        """What tells the model's weights apart from those the story was written with: each
        parameter's storage and in-place version (an optimizer step or ``load_state_dict`` bumps
        it, ``.to()`` moves it). Trained on after the explorer was shown, a model wrote a new story
        only once a knob moved: the step slider showed the old story beside the new attention."""
        return tuple((p.data_ptr(), _validate.version_counter(p)) for p in self.model.parameters())

    def _prompt(self) -> tuple[torch.Tensor, list[str]]:
        """The prompt box → (ids (t0,) starting with <bos>, the t0 - 1 tokens as typed), or
        InputError."""
        most = self.model.config.max_len  # <bos>, the prompt, and room for a new token at least
        why = (
            f"the model reads at most {most} positions: <bos>, at most {most - 2} of the prompt, "
            "and one for a token it writes"
        )
        tokens, ids, unknown = read_sentence(
            self.value("text"), self.vocab, label="prompt", max_tokens=most - 2, example=EXAMPLE, why=why
        )
        if unknown:
            self.note(unknown_note(unknown) + " The model never saw <unk> in a story.", key="unknown")
        return torch.cat([torch.tensor([self.vocab.bos_id]), ids]), tokens

    def _greedy(self) -> bool:
        return self.value("temperature") == 0

    def _knobs_text(self) -> str:
        """The knobs that reshape the model's distribution before a draw ("T = 0.5, top-k 5"),
        "" where the draw is from the model's own (greedy reports that too)."""
        if self._greedy():
            return ""
        t, k, p = self.value("temperature"), self.value("top_k"), self.value("top_p")
        knobs = [f"T = {t:g}"] if t != 1 else []
        knobs += [f"top-k {k}"] if 0 < k < len(self.vocab) else []  # the slider's end keeps every token
        knobs += [f"top-p {p:g}"] if p < 1 else []
        return ", ".join(knobs)

    def _note_knobs_that_do_nothing(self, gen: generation.Generation) -> None:
        """Say why the seed (and top-k, top-p) move nothing when there is nothing to draw."""
        if self._greedy():
            self.note(
                "At temperature 0 the model takes its likeliest token every time, so the seed, "
                "top-k and top-p change nothing; the bars are its own distribution.",
                key="knobs",
            )
        elif self.value("top_k") == 1:
            self.note(
                "With top-k 1 only the likeliest token is left, so the seed changes nothing.", key="knobs"
            )
        elif self.value("top_k") >= len(self.vocab):
            self.note(
                f"top-k {self.value('top_k')} keeps every token of the vocabulary, as 0 does: it "
                "changes nothing.",
                key="knobs",
            )
        if not self._greedy() and self.value("top_k") != 1 and one_token_left(gen):
            self.note(one_left_note(self.value("temperature"), self.value("top_p")), key="one-left")

    def _write(self, prompt: torch.Tensor) -> generation.Generation:
        device = next(self.model.parameters()).device
        n_new = min(self.max_new_tokens, self.model.config.max_len - prompt.shape[0])
        top_k, top_p = self.value("top_k") or None, self.value("top_p")
        with evaluating(self.model):
            return generation.generate(
                generation.cached_logits_fn(self.model),
                prompt.to(device),
                max_new_tokens=n_new,
                strategy="greedy" if self._greedy() else "sample",
                temperature=self.value("temperature"),
                top_k=top_k,
                top_p=None if top_p >= 1.0 else top_p,
                eos_id=self.vocab.eos_id,
                seed=self.value("seed"),
            )

    def _note_tokens_no_story_has(self, new_words: list[str]) -> None:
        """Say so when the model wrote <pad>, <bos> or <unk>: no story has them inside, and
        training never asked for them (padding is left out of the loss)."""
        odd = [w for w in (PAD, BOS, UNK) if w in new_words]
        if odd:
            self.note(
                f"The model wrote {quote_list(odd)}, which no story contains (training never asked "
                "for it): that happens after text unlike its stories, or at a high temperature.",
                key="odd",
            )

    # --- what the views show ---

    def _verdict(self, words: list[str], shown: list[str], prompt_len: int, *, finished: bool) -> bool | None:
        """The generator's verdict on a finished story (None without a generator, or unfinished);
        ``words``: <bos>, the prompt's tokens, then the new ones (from ``prompt_len`` on);
        ``shown``: the same with the prompt as typed (a word, not its <unk>)."""
        self.mistake = None
        if self.generator is None:
            return None
        self.mistake = mistake = self.generator.first_mistake(words, finished=finished)
        if finished:
            verdict = (
                "The story is one the generator could have written."
                if mistake is None
                else "The story is NOT one the generator could have written: "
                + ("the model made a mistake" if mistake.position >= prompt_len else "it went wrong")
            )
        else:
            new = counted(len(words) - prompt_len, "new token")
            verdict = f"The story is not finished after {new} (no <eos> yet"
            if len(words) >= self.model.config.max_len:
                verdict += f"; the model has no positions left after {self.model.config.max_len} tokens"
            verdict += ")" + ("." if mistake is None else ", and it has already gone wrong")
        if mistake is not None:
            verdict += f" {self._where(mistake, shown, prompt_len)}."
        self.note(verdict, key="verdict")
        return None if not finished else mistake is None

    @staticmethod
    def _where(mistake: Mistake, shown: list[str], prompt_len: int) -> str:
        """Where the story first went wrong, in words: "at new token 5: 'x' after '… a b', where
        a story has one of 'y', 'z'" (or "in your prompt: word 1, …", or "… after its <eos>");
        ``shown``: the story's tokens with the prompt as typed."""
        at = mistake.position
        new = at - prompt_len + 1  # the new tokens count from 1, after the prompt's last
        place = f"at new token {new}: " if new >= 1 else f"in your prompt: word {at}, "
        token = quote(shown[at]) if at < len(shown) else quote(mistake.token)  # the implied <eos>
        if at < len(shown) and shown[at] != mistake.token:
            token += f" (read as {mistake.token})"
        before = " ".join(shown[max(1, at - 4) : at])
        context = f"after '… {before}'" if before else "at the start"
        if not mistake.allowed:
            return f"{place}{token} after the story's <eos>"
        one_of = "" if len(mistake.allowed) == 1 else "one of "
        return f"{place}{token} {context}, where a story has {one_of}" + quote_list(mistake.allowed, most=4)

    def _true_probs(self, prefix: list[str]) -> torch.Tensor | None:
        """The stories' own distribution after ``prefix`` (V,), or None where none is known."""
        if self.generator is None:
            return None
        try:
            return self.generator.next_token_tensor(prefix, self.vocab)
        except ValueError:
            self.note("No story starts this way, so the bars have nothing to be compared with.", key="true")
            return None

    def _story_html(self, words: list[str], prompt_len: int, looked_at: int) -> str:
        """The prompt, then the new tokens underlined; the token looked at in bold; the first
        mistake struck through."""
        parts = []
        for i, word in enumerate(words[1:], start=1):  # leave <bos> out
            text = html.escape(word)
            if self.mistake is not None and i == self.mistake.position:
                text = f'<span class="tc-mistake" style="{MISTAKE}">{text}</span>'
            if i >= prompt_len:
                text = f'<span style="text-decoration:underline">{text}</span>'
            if i == looked_at:
                text = f"<b>[{text}]</b>"
            parts.append(text)
        return (
            '<div class="tc-story" style="font-size:1.05em;line-height:1.6;max-width:900px">'
            + " ".join(parts)
            + '</div><div class="tc-story-key" style="opacity:0.85;font-size:0.9em">'
            "Plain: your prompt. Underlined: written by the model. [Bold]: the token looked at."
            + (" Struck through: where it stops being a story." if self.mistake is not None else "")
            + "</div>"
        )

    def _attention_figure(self, ids: torch.Tensor, words: list[str], query: int, chosen: str):
        """Every head's attention from position ``query`` over positions 0 … query: (layers·h, query + 1)."""
        with evaluating(self.model):
            self.model(ids[: query + 1].unsqueeze(0), need_weights=True)
        layers = self.model.attention_weights()["decoder_self"]  # per layer (1, h, T, T)
        rows = torch.cat([w[0, :, query, : query + 1].cpu() for w in layers])  # (layers·h, query + 1)
        heads = layers[0].shape[1]
        # Counted from 0, as chapter 09 names the heads it finds (PronounHead's layer and head)
        # and ModelExplorer numbers its layers: model.blocks.layers[0] is layer 0.
        labels = [f"layer {i // heads} head {i % heads}" for i in range(rows.shape[0])]
        return figures.matrix_heatmap(
            rows,
            labels,
            words[: query + 1],
            # Short: the figure is half the explorer wide, and a longer title (the chosen token
            # too, 62 characters) had to shrink to fit. The info line names the chosen token.
            title=f"Each head's attention from '{words[query]}'",
            x_title="earlier token",
            y_title="head",
            zmin=0.0,
            zmax=1.0,
            show_text=False,
            value_name="weight",
            # Every head keeps its label on a slide, smaller if need be (static/figure_view.js,
            # rowLabelsFit): thinned to every other row, the chapter's odd heads ("they" → layer 0
            # head 1) had no label, and a presenter counted rows to find one.
            every_row_label=True,
        )
