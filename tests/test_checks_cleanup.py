"""The checkers' own code: a mistake's example written with what the learner has, no checker
module reaching into another's private names, and each switch of the loss written once.

The GPT exercise's "× √V" example once scaled by the checker's own vocabulary size (CASE_V):
it matched only on the checker's cases, and a learner has no such constant, only
``parts.token.num_embeddings``. Every example must match its mistake on parts of another size.
"""

import ast
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from transformer_course import checks
from transformer_course.checks import gpt_forward, loss_learners, loss_reductions
from transformer_course.checks.describe import same
from transformer_course.checks.gpt_parts import CASE_V, GptParts
from transformer_course.checks.loss import _loss_cases, loss_reference
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig

CHECKS = Path(checks.__file__).parent


def parts_of_another_size(vocab_size: int, d_model: int) -> GptParts:
    """Chapter 09's kind of model, at sizes the checker's own cases do not use."""
    config = TransformerConfig(
        vocab_size=vocab_size, d_model=d_model, num_heads=2, num_decoder_layers=2, d_ff=32, dropout=0.0,
        max_len=24, norm_first=True, activation="gelu", positional="learned",
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = DecoderOnlyTransformer(config).eval()
        for norm in (m for m in model.modules() if isinstance(m, nn.LayerNorm)):
            nn.init.normal_(norm.weight, mean=1.0, std=0.3)  # as trained: not 1 and 0
            nn.init.normal_(norm.bias, std=0.3)
    return GptParts.of(model)


GPT_EXAMPLES = [m for m in gpt_forward.MISTAKES if m.compute is not None and m.example is not None]


@pytest.mark.parametrize(("vocab_size", "d_model"), [(CASE_V + 8, 16), (CASE_V + 8, 8)])
@pytest.mark.parametrize("mistake", GPT_EXAMPLES, ids=[m.name for m in GPT_EXAMPLES])
def test_each_gpt_example_is_its_mistake_on_parts_of_another_size(mistake, vocab_size, d_model):
    parts = parts_of_another_size(vocab_size, d_model)
    ids = torch.tensor([[1, 5, 3, 17, 2], [2, 19, 8, 11, 6]])  # (2, 5), ids below vocab_size
    with torch.no_grad():
        assert same(mistake.example(parts, ids), mistake.compute(parts, ids), 1e-4), mistake.name


def times_sqrt_v(parts, ids):
    """A learner's forward pass scaled by √V, written with what the learner has."""
    v = parts.token.num_embeddings
    x = parts.token(ids) * math.sqrt(v) + parts.positions(torch.arange(ids.shape[1]))
    sees = torch.ones(ids.shape[1], ids.shape[1], dtype=torch.bool).tril()
    for block in parts.blocks:
        x = block(x, sees)
    return parts.norm(x) @ parts.token.weight.T


def test_the_times_sqrt_v_hint_names_what_the_learner_has():
    (mistake,) = [m for m in gpt_forward.MISTAKES if m.name == "× √V"]
    assert "math.sqrt(parts.token.num_embeddings)" in mistake.hint
    assert "math.sqrt(parts.token.embedding_dim)" in mistake.hint  # and the right scale
    verdict = checks.check_gpt_forward(times_sqrt_v)
    assert verdict.status == checks.WRONG and verdict.message == mistake.hint


def private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        f"{path.name}:{node.lineno} imports {alias.name} from .{node.module}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_checker_module_imports_another_modules_private_name():
    found = [line for path in sorted(CHECKS.glob("*.py")) for line in private_imports(path)]
    assert not found, "make the shared name public where it is defined:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("gpt_forward", "_cases"),
        ("cached_step", "_cases"),
        ("sampling", "_frequencies"),
        ("loss", "loss_reference"),
    ],
)
def test_the_names_tests_import_from_an_exercise_module_are_still_there(module, name):
    exercise = __import__(f"transformer_course.checks.{module}", fromlist=[name])
    assert callable(getattr(exercise, name))


LOSS_CASES = _loss_cases()


@pytest.mark.parametrize("case", LOSS_CASES, ids=["pad 0", "pad 0, short", "pad 3"])
def test_the_loss_references_over_switch_is_the_log_softmax_axis(case):
    with torch.no_grad():
        over_batch = loss_reference(*case, over=0)
        assert same(over_batch, loss_learners.log_softmax_over_the_batch(*case), 1e-5)
        assert not same(over_batch, loss_reference(*case), 1e-3)  # the switch did something
        over_positions = loss_reference(*case, over=1)
        assert same(over_positions, loss_learners.log_softmax_over_positions(*case), 1e-5)
        assert same(loss_reference(*case, over_positions=True), over_positions, 0.0)  # the older name


def test_loss_reductions_writes_no_loss_of_its_own():
    # Its per-position losses, log-softmax axis and reductions are loss_reference's switches.
    tree = ast.parse(Path(loss_reductions.__file__).read_text())
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    called = {getattr(f, "attr", getattr(f, "id", None)) for f in calls}
    assert "loss_reference" in called
    assert not called & {"log_softmax", "cross_entropy", "nll_loss", "gather"}, called
    with torch.no_grad():
        model, src, trg, pad_id = LOSS_CASES[2]
        each = loss_reductions.per_position(model, src, trg, pad_id)
        assert each.shape == trg[:, 1:].shape
        real = trg[:, 1:] != pad_id
        assert same((each * real).sum() / real.sum(), loss_reference(model, src, trg, pad_id), 1e-5)
