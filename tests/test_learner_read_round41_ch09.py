"""Round 41: chapter 09 (a GPT that writes) read as a learner, its three checkers fed wrong answers.

The checkers: answers that used to get a bare "differs from the reference" (or, for the nucleus
cut at 1 − top_p, another mistake's hint) now get a hint that names what went wrong; right
answers written in other styles still pass.

The chapter: the untrained model has a name of its own, so re-running the cells that measure it
after training neither measures the trained model nor replaces it; the forward exercise says
where d_model comes from; the prose names the variables a far cell uses and says no more than
its numbers.
"""

from __future__ import annotations

import ast
import math
import os
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.masks import causal_mask

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))


def _mistake(exercise_name, mistake_name):
    found = [m for m in exercise(exercise_name).mistakes if m.name == mistake_name]
    assert found, f"{exercise_name} has no mistake {mistake_name!r}"
    return found[0]


def names(result, exercise_name, mistake_name):
    """Rejected with exactly that mistake's hint (first, as the harness puts it)."""
    hint = _mistake(exercise_name, mistake_name).hint
    assert result.status == WRONG, result
    assert result.message.startswith(hint), result.message


# --- Exercise 09a: the GPT's forward pass ---


def _gpt(parts, ids, *, scale=None, mask=None, norm_inputs=False, positions=1):
    """A learner's forward pass; every keyword at its default gives the right answer."""
    length = ids.shape[1]
    scale = math.sqrt(parts.token.embedding_dim) if scale is None else scale
    x = parts.token(ids) * scale
    for _ in range(positions):
        x = x + parts.positions(torch.arange(length))
    sees = causal_mask(length) if mask is None else mask(length)
    for block in parts.blocks:
        x = block(parts.norm(x) if norm_inputs else x, sees)
    return parts.norm(x) @ parts.token.weight.T


@pytest.mark.parametrize(
    ("answer", "mistake_name", "says"),
    [
        (lambda p, i: _gpt(p, i, scale=math.sqrt(64)), "the chapter's d_model", "√64"),
        (lambda p, i: _gpt(p, i, scale=8.0), "the chapter's d_model", "embedding_dim"),
        (lambda p, i: _gpt(p, i, norm_inputs=True), "final norm before every block", "own LayerNorms"),
        (lambda p, i: _gpt(p, i, positions=2), "positions added twice", "twice"),
        (
            lambda p, i: _gpt(p, i, mask=lambda n: torch.ones(n, n).tril().long()),
            "an integer mask",
            "integers",
        ),
        (
            lambda p, i: _gpt(p, i, mask=lambda n: torch.tril(torch.ones(n, n, dtype=torch.int32))),
            "an integer mask",
            "bool",
        ),
    ],
    ids=["sqrt(64)", "× 8", "norm before each block", "positions twice", ".long() mask", "int32 mask"],
)
def test_gpt_forward_names_the_mistake(answer, mistake_name, says):
    result = checks.check_gpt_forward(answer)
    names(result, "gpt_forward", mistake_name)
    assert says in result.message


def _chapter_sized_model():
    """A model of the chapter's size (73 tokens, 64 wide), as a learner's notebook holds it."""
    from transformer_course.model import DecoderOnlyTransformer, TransformerConfig

    config = TransformerConfig(
        vocab_size=73, d_model=64, num_heads=16, num_decoder_layers=1, d_ff=128, dropout=0.0,
        max_len=256, norm_first=True, activation="gelu", positional="learned",
    )  # fmt: skip
    return DecoderOnlyTransformer(config)


def test_gpt_forward_names_a_model_from_the_chapter_called_instead_of_the_parts():
    untrained = _chapter_sized_model()
    result = checks.check_gpt_forward(lambda parts, ids: untrained(ids))
    names(result, "gpt_forward", "a model other than the parts")
    assert "only its arguments" in result.message


def test_gpt_forward_names_the_trained_model_that_does_not_exist_yet():
    def learner(parts, ids):
        return model(ids)  # noqa: F821 - the chapter makes `model` after the exercise

    result = checks.check_gpt_forward(learner)
    names(result, "gpt_forward", "the chapter's model, not made yet")
    assert "NameError" in result.message


def _gpt_einsum(parts, ids):
    length = ids.shape[1]
    x = parts.token.weight[ids] * parts.token.weight.shape[1] ** 0.5 + parts.positions.weight[:length]
    i = torch.arange(length)
    for block in parts.blocks:
        x = block(x, i[:, None] >= i[None, :])
    return torch.einsum("bld,vd->blv", parts.norm(x), parts.token.weight)


def _gpt_loops(parts, ids):
    b, length = ids.shape
    rows = [
        [parts.token.weight[ids[s, t]] * math.sqrt(parts.token.embedding_dim) for t in range(length)]
        for s in range(b)
    ]
    x = torch.stack([torch.stack(r) for r in rows]) + parts.positions(torch.arange(length))
    for k in range(len(parts.blocks)):
        x = parts.blocks[k](x, torch.tril(torch.ones(length, length)) > 0)
    return F.linear(parts.norm(x), parts.token.weight)


def _gpt_float64(parts, ids):
    return _gpt(parts, ids).double()


@pytest.mark.parametrize(
    "answer",
    [
        _gpt,
        _gpt_einsum,
        _gpt_loops,
        _gpt_float64,
        lambda p, i: _gpt(p, i, mask=lambda n: torch.ones(i.shape[0], n, n, dtype=torch.bool).tril()),
    ],
    ids=["plain", "einsum, i >= j mask", "loops, F.linear", "float64 result", "a (B, L, L) mask"],
)
def test_gpt_forward_right_answers_in_other_styles_pass(answer):
    assert checks.check_gpt_forward(answer).status == PASSED


# --- Exercise 09c: one cached attention step ---


def _grow(past, new):
    return new if past is None else torch.cat([past, new], dim=2)


def _step(q, k_new, v_new, past_k, past_v, *, weights=None, order="okv", merge=None):
    """A learner's cached step; every keyword at its default gives the right answer."""
    keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
    scores = q @ keys.transpose(-2, -1)
    d = q.shape[-1]
    w = torch.softmax(scores / math.sqrt(d), dim=-1) if weights is None else weights(scores, d)
    out = w @ values
    if merge is not None:
        out = merge(out)
    found = {"o": out, "k": keys, "v": values}
    return tuple(found[c] for c in order)


@pytest.mark.parametrize(
    ("answer", "mistake_name"),
    [
        (
            lambda *a: _step(*a, weights=lambda s, d: torch.softmax(s, -1) / math.sqrt(d)),
            "√d_head after the softmax",
        ),
        (
            lambda *a: _step(*a, weights=lambda s, d: F.softmax(s, dim=-1) / d**0.5),
            "√d_head after the softmax",
        ),
        (
            lambda *a: _step(*a, weights=lambda s, d: F.log_softmax(s / d**0.5, dim=-1)),
            "log-softmax for the weights",
        ),
        (lambda *a: _step(*a, order="kvo"), "results in another order"),
        (lambda *a: _step(*a, order="vko"), "results in another order"),
        (lambda *a: _step(*a, merge=lambda o: o.transpose(1, 2).reshape(o.shape[0], 1, -1)), "heads merged"),
        (lambda *a: _step(*a, merge=lambda o: o.transpose(1, 2).flatten(1)), "heads merged"),
    ],
    ids=[
        "softmax / √d",
        "F.softmax / d**0.5",
        "log_softmax",
        "(keys, values, out)",
        "(values, keys, out)",
        "(B, 1, h·d)",
        "(B, h·d)",
    ],
)
def test_cached_step_names_the_mistake(answer, mistake_name):
    names(checks.check_cached_attention_step(answer), "cached_attention_step", mistake_name)


def _step_loops(q, k_new, v_new, past_k, past_v):
    keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
    out = torch.empty_like(q)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            s = torch.stack([q[b, h, 0] @ key for key in keys[b, h]]) / math.sqrt(q.shape[-1])
            w = (s - s.max()).exp() / (s - s.max()).exp().sum()  # shifted: the checker has large scores
            out[b, h, 0] = (w[:, None] * values[b, h]).sum(0)
    return out, keys, values


def _step_keys_first(q, k_new, v_new, past_k, past_v):
    """keys @ qᵀ, (B, h, t + 1, 1), its softmax over the keys (dim=-2), then transposed back."""
    keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
    w = torch.softmax(keys @ q.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2)
    return w.transpose(-2, -1) @ values, keys, values


def _step_empty_slice(q, k_new, v_new, past_k, past_v):
    past_k = k_new[:, :, :0] if past_k is None else past_k
    past_v = v_new[:, :, :0] if past_v is None else past_v
    keys, values = torch.cat((past_k, k_new), -2), torch.cat((past_v, v_new), -2)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


@pytest.mark.parametrize(
    "answer",
    [
        _step,
        _step_loops,
        _step_keys_first,
        _step_empty_slice,
        lambda *a: [t.double() for t in _step(*(None if t is None else t.double() for t in a))],
    ],
    ids=["plain", "loops", "keys @ qᵀ", "an empty slice, sdpa", "float64, as a list"],
)
def test_cached_step_right_answers_in_other_styles_pass(answer):
    assert checks.check_cached_attention_step(answer).status == PASSED


# --- Exercise 09b: the nucleus of top-p ---


def _nucleus(probs, top_p, *, cut=None, drop=None):
    """A learner's nucleus: ``cut(top_p)`` is the mass kept, ``drop(above, p)`` the mask filled."""
    ranked, order = probs.sort(dim=-1, descending=True)
    above = ranked.cumsum(dim=-1) - ranked
    p = top_p if cut is None else cut(top_p)
    ranked = ranked.masked_fill(above >= p if drop is None else drop(above, p), 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


def _nucleus_where(probs, top_p):
    """The tokens to keep marked True, then torch.where the wrong way round."""
    ranked, order = torch.sort(probs, descending=True)
    keep = torch.cumsum(ranked, -1) - ranked < top_p
    ranked = torch.where(keep, torch.zeros_like(ranked), ranked)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(-1, keepdim=True)


@pytest.mark.parametrize(
    ("answer", "mistake_name"),
    [
        (lambda p, t: _nucleus(p, t, cut=lambda t: 1 - t), "cut at 1 − top_p"),
        (lambda p, t: _nucleus(p, t, cut=lambda t: 1.0 - t, drop=lambda a, p: a > p), "cut at 1 − top_p"),
        (lambda p, t: _nucleus(p, t, drop=lambda a, p: a < p), "the tail kept"),
        (_nucleus_where, "the tail kept"),
    ],
    ids=["1 - top_p", "1.0 - top_p, >", "masked_fill(above < top_p)", "torch.where the wrong way"],
)
def test_nucleus_names_the_mistake(answer, mistake_name):
    names(checks.check_keep_top_p(answer), "keep_top_p", mistake_name)


def test_nucleus_keeps_naming_the_crossing_token_when_one_minus_top_p_is_told_first():
    """The nucleus of 1 − top_p equals the crossing token left out on the first case's rows: the
    older mistake must keep its own hint."""
    example = _mistake("keep_top_p", "crossing token left out, the first always kept").example
    names(checks.check_keep_top_p(example), "keep_top_p", "crossing token left out, the first always kept")


def _nucleus_loop(probs, top_p):
    out = torch.zeros_like(probs)
    for b in range(probs.shape[0]):
        total = 0.0
        for i in sorted(range(probs.shape[1]), key=lambda j: -float(probs[b, j])):
            if total >= top_p:
                break
            out[b, i], total = probs[b, i], total + float(probs[b, i])
    return out / out.sum(dim=1, keepdim=True)


def _nucleus_inverse_order(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    shifted = torch.cat([torch.zeros_like(ranked[:, :1]), ranked.cumsum(-1)[:, :-1]], dim=-1)
    kept = (ranked * (shifted < top_p)).gather(-1, order.argsort(-1))
    return kept / kept.sum(-1, keepdim=True)


@pytest.mark.parametrize(
    "answer",
    [
        _nucleus,
        _nucleus_loop,
        _nucleus_inverse_order,
        lambda p, t: _nucleus(p.double(), t),
        lambda p, t: _nucleus(p, t, drop=lambda a, p: ~(a < p)),
    ],
    ids=["plain", "loops", "gather with the inverse order", "float64", "~(above < top_p)"],
)
def test_nucleus_right_answers_in_other_styles_pass(answer):
    assert checks.check_keep_top_p(answer).status == PASSED


# --- The chapter ---


def _cells() -> list[str]:
    (path,) = CHAPTERS.glob("09_*.py")
    return re.split(r"\n(?=# %%)", path.read_text(encoding="utf-8"))


def _code_using(marker: str) -> str:
    (cell,) = [c for c in _cells() if marker in c and not c.startswith("# %% [markdown]")]
    return cell


def _names_in(cell: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(cell)) if isinstance(n, ast.Name)}


def test_cells_that_measure_the_untrained_model_do_not_use_the_name_training_rebinds():
    """Re-run after training, these cells used to measure the TRAINED model (the next-token cell
    then failed its 'worse than uniform' assert and overwrote untrained_val, which a later line
    prints as the untrained loss), and the model cell replaced the trained model."""
    for marker in ("count_parameters(", "gpt_forward_solution(checks.GptParts.of(", "untrained_val ="):
        used = _names_in(_code_using(marker))
        assert "model" not in used, f"the cell with {marker!r} uses `model`, which training rebinds"
        assert "untrained" in used
    training_setup = _code_using("a fresh model to train")
    assert "untrained.parameters()" in training_setup, "nothing checks that training starts from `untrained`"


def test_forward_exercise_says_where_d_model_comes_from():
    (lead_in,) = [c for c in _cells() if "### Your turn: the GPT's forward pass" in c]
    assert "parts.token.embedding_dim" in lead_in


def test_the_checkpoint_table_names_the_one_head_it_prints():
    cells = _cells()
    (at,) = [i for i, c in enumerate(cells) if "one_head = [" in c]
    assert "single" in _names_in(cells[at])
    assert "`single`" in cells[at - 1], (
        "the lead-in names `heads` but not `single`, which the table also reads"
    )


def test_pre_norm_gradient_prose_does_not_claim_it_grows_at_every_block():
    """The printed pre-norm row is 1.90 1.36 1.14 0.98 1.01 …: it grows on the whole, not at
    every block, and the asserts only check block 0 against block 7."""
    (prose,) = [c for c in _cells() if "With pre-norm the gradient grows" in c]
    assert "if not at every" in prose
    assert "pre[0] > 1.5 * pre[-1]" in _code_using("def block_gradients")


def test_the_temperature_table_says_why_its_t1_rate_differs_from_the_1000_stories():
    (prose,) = [c for c in _cells() if "At T = 1 the mistakes come from the" in c]
    assert "400 new draws: T = 1 need not match the rate above" in " ".join(prose.replace("#", " ").split())
    assert "sample_stories(model, 400, seed=1" in _code_using("settings = {")


def test_the_charts_colours_are_said_where_they_are_drawn():
    """The next-token chart drew the sampled token in orange with no word on it; the pointer
    charts' lead-in promised an orange noun whose bar is too small to see."""
    cells = _cells()
    (at,) = [i for i, c in enumerate(cells) if "likeliest_tokens_figure(" in c and "chosen=" in c]
    lead_in = " ".join(cells[at - 1].replace("#", " ").split())
    assert "orange bar is the token it drew" in lead_in
    pointer_calls = [c for c in cells if "figures.pointer_figure(" in c]
    assert len(pointer_calls) == 2 and all("distractor=orange[" in c for c in pointer_calls)
    assert '["oven", "lily"]' in pointer_calls[0]
    (watch,) = [c for c in cells if "### Watch them look back" in c]
    assert "the oven's, then Lily's, would be orange" in " ".join(watch.replace("#", " ").split())


def test_the_gpt_checkers_sizes_can_be_told_apart():
    """A broadcasting error quotes two sizes, and a hint reads which is which: with d_model and
    max_len both 16, "(16)" could be either (the position table's rows or its width)."""
    from transformer_course.checks import gpt_parts

    sizes = [gpt_parts.CASE_B, gpt_parts.CASE_L, gpt_parts.CASE_V, gpt_parts.CASE_D, gpt_parts.CASE_MAX_LEN]
    assert len(set(sizes)) == len(sizes)
    parts, ids = gpt_parts.cases()[0]
    assert parts.positions.num_embeddings == gpt_parts.CASE_MAX_LEN != parts.token.embedding_dim
