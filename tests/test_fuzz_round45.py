"""Round 45 of the fuzzing: a compiled KV-cache step that raises, and the grad mode after it.

What it found, fixed in lib:

- ``torch.compile(model.step, fullgraph=True, backend="eager")``: ``step`` was decorated
  ``@torch.no_grad()``, which dynamo traced into the graph as two grad-mode switches, off at
  its start and back at its end. A graph that raised between them (ids out of the
  vocabulary, checked in the graph; a cache filled under ``torch.inference_mode()``) never
  switched gradients back on (PyTorch 2.13; inductor restores the mode), so a training cell
  run after the error computed losses with no graph to backpropagate. ``step`` is now a
  frame dynamo skips, its ``no_grad`` plain Python; the checks and the step are the graph.
"""

from __future__ import annotations

import pytest
import torch
from tiny_models import TINY
from transformer_course.model import DecoderOnlyTransformer


@pytest.fixture(autouse=True)
def _fresh_dynamo_and_grad_mode():
    """Each test compiles afresh; the grad mode it found is put back even where it fails, so a
    failure here does not leave every later test without gradients."""
    torch._dynamo.reset()
    before = torch.is_grad_enabled()
    yield
    torch.set_grad_enabled(before)


def _tiny_model(seed: int) -> DecoderOnlyTransformer:
    torch.manual_seed(seed)
    return DecoderOnlyTransformer(TINY).eval()


def _learns(model: DecoderOnlyTransformer) -> bool:
    """Whether a training step's backward reaches the weights: what a learner's next cell needs."""
    model.zero_grad()
    logits = model(torch.tensor([[1, 2, 3]]))  # (1, 3, V)
    if not logits.requires_grad:
        return False
    logits.sum().backward()
    return model.output.weight.grad is not None


def test_a_compiled_step_that_refuses_ids_leaves_gradients_on():
    model = _tiny_model(0)
    step = torch.compile(model.step, fullgraph=True, backend="eager")
    logits = step(torch.tensor([[1, 2]]), model.new_cache())  # (1, 2, V): compiled and run once
    assert not logits.requires_grad  # still without gradients inside
    with pytest.raises(RuntimeError, match=r"ids must hold ids in \[0, 11\)"):
        step(torch.tensor([[TINY.vocab_size]]), model.new_cache())  # raised in the graph
    assert torch.is_grad_enabled()
    assert _learns(model)


def test_a_compiled_step_that_cannot_write_an_inference_mode_cache_leaves_gradients_on():
    """The other error raised inside the graph, past the checks: the cache's buffers were made
    under inference_mode (KVCache's docstring), and the graph's write into them is refused."""
    model = _tiny_model(1)
    step = torch.compile(model.step, fullgraph=True, backend="eager")
    cache = model.new_cache()
    with torch.inference_mode():
        model.step(torch.tensor([[1, 2, 3]]), cache)
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside"):
        step(torch.tensor([[4]]), cache)
    assert torch.is_grad_enabled()
    assert _learns(model)


def test_a_compiled_step_that_raises_under_no_grad_leaves_gradients_off():
    """The mode put back is the caller's, not always on; the step's logits carry no graph under
    either mode, and the compiled step gives what the eager one gives."""
    model = _tiny_model(2)
    step = torch.compile(model.step, fullgraph=True, backend="eager")
    prompt = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        with pytest.raises(RuntimeError, match=r"ids must hold ids in \[0, 11\)"):
            step(torch.tensor([[TINY.vocab_size]]), model.new_cache())
        assert not torch.is_grad_enabled()
        got = step(prompt, model.new_cache())  # (1, 3, V)
    want = model.step(prompt, model.new_cache())
    assert not got.requires_grad and not want.requires_grad
    torch.testing.assert_close(got, want)
