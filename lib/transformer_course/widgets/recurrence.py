"""Why recurrent networks struggle with long sentences (chapter 00): repeated products."""

from __future__ import annotations

import ipywidgets as widgets
import torch

from .. import figures
from .kit import Explorer


class RepeatedProductExplorer(Explorer):
    """Chapter 00. A factor and a number of steps → factor**t for t = 0 … steps (log scale).

    An RNN passes its gradient back through the same multiplication once per token, so a
    factor a little below 1 shrinks it to nothing and a little above 1 blows it up.
    """

    def __init__(self, factor: float = 0.9, steps: int = 50):
        super().__init__(
            controls={
                "factor": widgets.FloatSlider(
                    value=factor, min=0.5, max=1.5, step=0.01, description="factor", readout_format=".2f"
                ),
                "steps": widgets.IntSlider(value=steps, min=1, max=100, description="steps"),
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
        self.note(f"{factor:.2f} multiplied {steps} times = {float(values[-1]):.3g}.")
        return {"product": figures.repeated_product_figure(values, factor)}
