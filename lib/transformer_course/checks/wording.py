"""How a check's verdict is worded: whose function it names, which NotImplementedError means
"not attempted", and how `code` in a message is drawn in a notebook."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

# What PyTorch says when it raises NotImplementedError itself: an operation it has no kernel
# for ("log_softmax_lastdim_kernel_impl" not implemented for 'Long', Could not run 'aten::…').
# The starter's bare ``raise NotImplementedError`` says none of these.
# A learner's own "not implemented for now" is none of these: PyTorch names a dtype in quotes.
TORCH_REFUSALS = re.compile(r"not implemented for '\w+'|Could not run '|aten::|not currently implemented for")


def torch_refused(err: NotImplementedError) -> bool:
    return TORCH_REFUSALS.search(str(err)) is not None


def own_name(fn: Callable, exercise: str) -> str:
    """The name the chapter gave the learner's function (``my_softmax``), which is what they
    look for in their notebook; else the exercise's own name (a lambda, a partial, a function
    named otherwise), so that the verdict always names the exercise."""
    for _ in range(8):  # a checker's adapters around it (sampling's draws, chapter 06's rows)
        fn = getattr(fn, "__wrapped__", fn)
    name = getattr(fn, "__name__", "")
    # The chapters name every exercise my_…, not always after the checker (my_masked_weights,
    # checked as causal_masked_weights, was called by the exercise's name).
    mine = isinstance(name, str) and name.isidentifier() and (exercise in name or name.startswith("my_"))
    return name if mine else exercise


def code_spans(text: str) -> str:
    """`code` in a message → <code>code</code>: in a notebook (and on a slide) the backticks
    would show as they are typed."""
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", text)


def signature_error(err: Exception, name: str) -> str | None:
    """The hint for a function that cannot even be called with the checker's arguments (its
    parameters were renamed away, removed or added): the TypeError raised by the call itself,
    not by code inside the function."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    # Raised where the checker calls the function, not inside it: the innermost frame is ours.
    in_checker = tb is not None and Path(tb.tb_frame.f_code.co_filename).parent == Path(__file__).parent
    calling = re.search(r"positional argument|required positional|unexpected keyword", str(err))
    if not isinstance(err, TypeError) or not calling or not in_checker:
        return None
    return (
        f"{name} cannot be called the way the exercise defines it: keep the parameters of the "
        "starter cell, in the same order (give any extra one a default value)."
    )
