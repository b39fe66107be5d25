"""The controls of an explorer, each starting at an argument of its constructor, checked there.

An explorer's constructor builds its controls from its arguments through ``text_box``,
``sentence_box``, ``checkbox``, ``int_slider``, ``float_slider`` and ``log_slider``, and checks
the modules it is given with ``check_embedding`` / ``check_attention``: a bad argument is a
ValueError naming it, from code, where a message in the widget would be too late. A slider over a
list of options is ``SelectionSlider``, which refuses None (ipywidgets' own takes it without
telling the explorer).

``kit`` re-exports every name here: an explorer imports what it is built from in one place.
"""

from __future__ import annotations

import ipywidgets as widgets
import torch
import traitlets

from .. import _validate
from ..tokenizer import Vocab

# --- Controls built from a constructor's argument -------------------------------------------
# Each checks the argument ``arg`` the explorer was given before building the control, so a bad
# one is a ValueError naming it ("length must be an int in [2, 128], got 1000"), not a
# TraitError about 'value', nor a value the slider silently clamps to its end.


def text_box(arg: str, value: object, **kw) -> widgets.Text:
    """A Text starting at ``value``, a str."""
    return widgets.Text(value=_validate.text(arg, value), **kw)


def sentence_box(
    text: str, *, description: str = "Sentence", width: str = "360px", arg: str = "text"
) -> widgets.Text:
    """The text box a learner types a sentence into, holding ``text``: the constructor's
    argument ``arg``, refused by that name unless a str."""
    return text_box(arg, text, description=description, layout=widgets.Layout(width=width))


def checkbox(arg: str, value: object, **kw) -> widgets.Checkbox:
    """A Checkbox starting at ``value``: True or False ("no" would be truthy)."""
    return widgets.Checkbox(value=_validate.boolean(arg, value), **kw)


def int_slider(arg: str, value: object, low: int, high: int, *, step: int = 1, **kw) -> widgets.IntSlider:
    """An IntSlider on [low, high] starting at ``value``, an int on its steps (numpy's too)."""
    value = _validate.int_between(arg, value, low, high, step=step)
    return widgets.IntSlider(value=value, min=low, max=high, step=step, **kw)


def float_slider(arg: str, value: object, low: float, high: float, **kw) -> widgets.FloatSlider:
    """A FloatSlider on [low, high] starting at ``value``, a real number (an int too)."""
    value = _validate.finite_number(arg, value, at_least=low, at_most=high)
    return widgets.FloatSlider(value=value, min=low, max=high, **kw)


def log_slider(
    arg: str, value: object, low: int, high: int, *, base: int = 10, **kw
) -> widgets.FloatLogSlider:
    """A FloatLogSlider from base**low to base**high (``low``, ``high``: exponents, as ipywidgets
    takes them) starting at ``value``, a real number in that range."""
    value = _validate.finite_number(arg, value, at_least=base**low, at_most=base**high)
    return widgets.FloatLogSlider(value=value, base=base, min=low, max=high, **kw)


class _NotNone(traitlets.Any):
    """Any value but None. traitlets runs a trait's validators on None only where the trait
    does not allow it, and Any allows it (``allow_none=False`` is ignored: the class says True)."""

    allow_none = False


class SelectionSlider(widgets.SelectionSlider):
    """ipywidgets' SelectionSlider, refusing None as its value (a TraitError, as for a value not
    among its options). Its own takes None, then fails to move the slider to no option: the
    TraitError comes after the value changed, before the explorer hears of it, so the value stays
    None under a slider that still shows an option, and the next update says nothing is picked."""

    value = _NotNone(help="Selected value")

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        if proposal.value is None and None not in self._options_values:  # None may be an option
            label = self.description or "the slider"
            raise traitlets.TraitError(f"'{label}' always points at one of its options; None is not one.")
        return super()._validate_value(proposal)


def check_embedding(vocab: object, embedding: object) -> int:
    """``vocab`` a Vocab and ``embedding`` its table, a module whose ``weight`` is
    (len(vocab), d_model), checked by name → d_model. A table of another vocabulary fails
    later on the first id past its end, or reads every id as another word."""
    _validate.instance("vocab", vocab, Vocab)
    weight = getattr(embedding, "weight", None) if isinstance(embedding, torch.nn.Module) else None
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise ValueError(
            "embedding must be an nn.Module with a weight table (vocab size, d_model), e.g. a "
            f"TokenEmbedding, got {type(embedding).__name__}"
        )
    if weight.shape[0] != len(vocab):
        raise ValueError(
            f"embedding must have one row per vocab token ({len(vocab)}), got {weight.shape[0]} rows"
        )
    return weight.shape[1]


def check_attention(attention: object, kind: type, d_model: int) -> None:
    """``attention`` a ``kind`` (the explorer reads its parts: w_q … or num_heads) that takes the
    embedding's vectors, (…, d_model): another width fails inside its first matmul."""
    _validate.instance("attention", attention, kind)
    if attention.d_model != d_model:
        raise ValueError(
            f"attention must take vectors of width {d_model} (the embedding's d_model), "
            f"got {attention.d_model}"
        )
