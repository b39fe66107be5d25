"""Why recurrent networks struggle with long sentences (chapter 00): repeated products, and a
real RNN's gradient against distance beside attention's."""

from __future__ import annotations

import torch

from .. import _validate, figures
from ..recurrence import attention_gradients, rnn_gradients
from .kit import Explorer, counted, float_slider, int_slider


class RepeatedProductExplorer(Explorer):
    """Chapter 00. A factor and a number of steps → factor**t for t = 0 … steps (log scale).

    An RNN passes its gradient back through the same multiplication once per token, so a
    factor a little below 1 shrinks it to nothing and a little above 1 blows it up.
    """

    def __init__(self, factor: float = 0.9, steps: int = 50):
        super().__init__(
            controls={
                "factor": float_slider(
                    "factor", factor, 0.5, 1.5, step=0.01, description="factor", readout_format=".2f"
                ),
                "steps": int_slider("steps", steps, 1, 100, description="steps"),
            },
            views={"product": "figure"},
        )

    def products(self) -> torch.Tensor:
        """factor**t for t = 0 … steps, shape (steps + 1,), in float64 so 1.5**100 fits."""
        t = torch.arange(self.value("steps") + 1, dtype=torch.float64)
        return torch.tensor(self.value("factor"), dtype=torch.float64) ** t

    def render(self):
        factor, steps = self.value("factor"), self.value("steps")
        values = self.products()
        self.note(f"{factor:.2f} multiplied {counted(steps, 'time')} = {float(values[-1]):.3g}.")
        return {"product": figures.repeated_product_figure(values, factor)}


class PathLengthExplorer(Explorer):
    """Chapter 00. A tiny RNN's gradient against distance, beside one self-attention layer's.

    Both measured with autograd (``recurrence``): the gradient from the last position
    reaching each token. In the RNN it passes through one step per token in between; in
    attention every token is one step from the last. Controls: the sentence length and the
    RNN's recurrent scale (W = scale × an orthogonal matrix). State for tests: ``rnn``, ``attention``.
    """

    def __init__(self, length: int = 50, scale: float = 1.0, seed: int = 0):
        self.seed = _validate.seed("seed", seed)
        self.rnn: torch.Tensor | None = None
        self.attention: torch.Tensor | None = None
        self._attention_cache: dict[int, torch.Tensor] = {}  # by length: the scale does not change it
        super().__init__(
            controls={
                "length": int_slider("length", length, 2, 100, description="tokens"),
                "scale": float_slider(
                    "scale", scale, 0.5, 3.0, step=0.05, description="RNN scale", readout_format=".2f"
                ),
            },
            views={"gradients": "figure"},
        )

    def render(self):
        length, scale = self.value("length"), self.value("scale")
        rnn = rnn_gradients(length, scale=scale, seed=self.seed)
        if length not in self._attention_cache:
            self._attention_cache[length] = attention_gradients(length, seed=self.seed)
        attention = self._attention_cache[length]
        self.rnn, self.attention = rnn, attention
        far = length - 1
        steps = counted(far, "step")
        self.note(
            f"The first token is {steps} back. The RNN's gradient must cross {steps} to reach "
            f"it and arrives at {float(rnn[-1]):.2g} (the last token gets {float(rnn[0]):.2g}); "
            f"attention reaches it in 1 step, with {float(attention[-1]):.2g}."
        )
        return {
            "gradients": figures.gradient_distance_figure(
                {f"RNN (tanh, scale {scale:.2f})": rnn, "self-attention": attention},
                title=f"Gradient reaching each of {length} tokens from the last one",
            )
        }
