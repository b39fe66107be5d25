"""Round 48: a shape error no catalogued mistake names, raised where a reduction lost its axis.

A review found hand-written softmaxes and normalisations without keepdim=True answered with the
plain "raised" in every exercise that catalogues no keepdim slip, though the re-run shows the
cause. The harness now names it (``checks.lost_axis``): the reduction, the shape it gave, the
shape it met and, for a broadcast, the shape that lines up. The same answers with the axis put
back pass; a shape error with no lost axis, or one a catalogued mistake names, keeps its verdict;
the learner's call is re-run at most once per verdict.
"""

from __future__ import annotations

import pytest
import torch
from transformer_course.checks import ERROR, PASSED, WRONG, exercise, failure
from transformer_course.checks.harness import Mistake, check_function
from transformer_course.checks.lost_axis import lost_axis_hint


def _reduce(t: torch.Tensor, how: str, style: str, dim: int = -1) -> torch.Tensor:
    """``t.<how>(dim)`` the way a learner writes it: "lost" without keepdim, or with the axis
    kept (keepdim=True) or put back by hand at the same place ([..., None], .unsqueeze(-1))."""
    if style == "keepdim":
        return getattr(t, how)(dim, keepdim=True)
    short = getattr(t, how)(dim)
    return {"lost": short, "[..., None]": short[..., None], "unsqueeze": short.unsqueeze(-1)}[style]


# --- Learners' answers from four chapters: a hand softmax or normalisation, by style ---


def multi_head_attention(style):  # chapter 05: e / e.sum(-1) on (B, h, L, L)
    def my_multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d_model = x.shape
        d_head = d_model // num_heads

        def split(t):  # (B, L, D) → (B, h, L, d_head)
            return t.view(b, length, num_heads, d_head).transpose(1, 2)

        q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
        scores = q @ k.transpose(-2, -1) / d_head**0.5
        e = (scores - scores.amax(dim=-1, keepdim=True)).exp()
        weights = e / _reduce(e, "sum", style)
        return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o

    return my_multi_head_attention


def layer_norm(style):  # chapter 07: the statistics expanded to x's shape
    def my_layer_norm(x, weight, bias, eps):
        mean = _reduce(x, "mean", style).expand_as(x)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + eps) * weight + bias

    return my_layer_norm


def teacher_forcing_loss(style):  # chapter 08: a log-softmax by hand
    def my_loss(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        labels = trg[:, 1:]
        log_probs = logits - _reduce(logits, "logsumexp", style)
        picked = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        return picked[labels != pad_id].mean()

    return my_loss


def keep_top_p(style):  # chapter 09: the nucleus scaled by its largest entry first
    def my_keep_top_p(probs, top_p):
        ranked, order = probs.sort(dim=-1, descending=True)
        ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
        kept = torch.zeros_like(probs).scatter(-1, order, ranked)
        kept = kept / _reduce(kept, "amax", style)
        return kept / kept.sum(dim=-1, keepdim=True)

    return my_keep_top_p


ANSWERS = [
    ("multi_head_attention", multi_head_attention, "sum"),
    ("layer_norm", layer_norm, "mean"),
    ("teacher_forcing_loss", teacher_forcing_loss, "logsumexp"),
    ("keep_top_p", keep_top_p, "amax"),
]
IDS = [name for name, _, _ in ANSWERS]


@pytest.mark.parametrize(("name", "answer", "how"), ANSWERS, ids=IDS)
def test_a_reduction_that_lost_its_axis_is_named(name, answer, how):
    result = exercise(name).check(answer("lost"))
    assert result.status == WRONG, result.message
    assert result.message.startswith(f"Your .{how}(…) has no keepdim=True"), result.message
    assert f".{how}(dim=…, keepdim=True)" in result.message
    assert " raised RuntimeError on input #1: " in result.message  # the raised text follows


@pytest.mark.parametrize("style", ["keepdim", "[..., None]", "unsqueeze"])
@pytest.mark.parametrize(("name", "answer", "how"), ANSWERS, ids=IDS)
def test_the_same_answers_with_the_axis_kept_pass(name, answer, how, style):
    result = exercise(name).check(answer(style))
    assert result.status == PASSED, result.message


# --- What it says: the shapes, read from the re-run ---


def _hint_for(fn, *case):
    try:
        fn(*case)
    except (RuntimeError, IndexError) as err:
        return lost_axis_hint(err, lambda: failure.rerun(fn, case))
    raise AssertionError("fn must raise")


def test_a_broadcast_names_the_shape_given_met_and_needed():
    hint = _hint_for(lambda e: e / e.sum(-1), torch.rand(2, 5, 7))
    assert "the division (/) got shape (2, 5) from it, next to (2, 5, 7)" in hint
    assert "a 1 where the axis was, (2, 5, 1): reduce with .sum(dim=…, keepdim=True)." in hint


def test_a_square_matrix_gives_both_shapes_that_line_up_and_a_max_its_values():
    hint = _hint_for(lambda s: s - s.max(-1).values, torch.rand(2, 3, 3))
    assert (
        hint.startswith("Your .max(…) has no keepdim=True")
        and "was: (2, 1, 3) or (2, 3, 1), by the axis you reduced." in hint
    )
    assert ".max(dim=…, keepdim=True).values" in hint


def test_a_matrix_product_given_a_reduction_names_nothing():
    # A product may be given a reduction meant to drop its axis (a pooled vector), and keepdim's
    # 1 would not make it fit: nothing is named.
    assert _hint_for(lambda x: x.mean(-1) @ x.mT, torch.rand(2, 3, 4)) is None


def test_a_reduction_beside_another_operand_that_keepdim_would_not_fit_names_nothing():
    # logsumexp over the vocabulary is right without keepdim here; the pick is of the wrong
    # shape, (B,) beside (B, L): keepdim's (B, L, 1) would not line up with it either.
    def loss(logits, targets):
        picked = logits[torch.arange(len(targets)), 0, targets[:, 0]]
        return (logits.logsumexp(-1) - picked).mean()

    assert _hint_for(loss, torch.rand(3, 6, 11), torch.randint(11, (3, 6))) is None


def test_an_axis_put_back_at_another_place_is_named_without_a_shape_to_line_up():
    hint = _hint_for(lambda e: e / e.sum(-1)[..., None, :], torch.rand(2, 3, 5))
    assert "got shape (2, 1, 3) from it" in hint and "must go at that same place" in hint
    assert "where it was, (2, 3, 1)" in hint


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x / x.sum(-1, keepdim=True) @ x,  # the axis kept; the product does not fit
        lambda x: x / x.sum(-1)[..., None] @ x,
        lambda x: x / x.sum(-1).unsqueeze(-1) @ x,
        lambda x: x @ x,  # no reduction at all
    ],
    ids=["keepdim", "[..., None]", "unsqueeze", "none"],
)
def test_a_shape_error_where_no_operand_lost_an_axis_names_nothing(fn):
    assert _hint_for(fn, torch.rand(2, 3, 5)) is None


def test_an_error_that_is_not_about_shapes_names_nothing_and_is_not_re_run():
    calls = []

    def fn(x):
        calls.append(1)
        return x / x.sum(-1) if len(calls) > 1 else x[99]  # only the re-run would lose an axis

    hint = _hint_for(fn, torch.rand(2, 3))
    assert hint is None and len(calls) == 1


# --- Other verdicts are kept ---


def _weight_as_a_column(x, weight, bias, eps):
    mean = x.mean(dim=-1)[..., None]
    var = x.var(dim=-1, unbiased=False).unsqueeze(-1)
    return (x - mean) / torch.sqrt(var + eps) * weight[:, None] + bias


def test_a_broadcast_error_with_no_lost_axis_keeps_the_plain_raised():
    result = exercise("layer_norm").check(_weight_as_a_column)
    assert result.status == ERROR and result.message.startswith("layer_norm raised RuntimeError"), result


def _no_keepdim_hint(name, mistake):
    return next(m.hint for m in exercise(name).mistakes if m.name == mistake)


@pytest.mark.parametrize(
    ("name", "mistake"),
    [
        ("layer_norm", "no keepdim"),
        ("keep_top_p", "sum without keepdim"),
        ("causal_masked_weights", "row sum without keepdim"),
    ],
)
def test_a_catalogued_keepdim_mistake_keeps_its_own_hint(name, mistake):
    example = next(m.example for m in exercise(name).mistakes if m.name == mistake)
    result = exercise(name).check(example)
    assert result.status == WRONG and result.message.startswith(_no_keepdim_hint(name, mistake))
    assert "has no keepdim=True, so the axis" not in result.message


def _sums_without_keepdim_on_a_batch_only(scores):
    e = (scores - scores.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=-1)[:, None]  # (L, 1) on a matrix, (B, 1, L) on a batch


def test_a_batch_only_failure_is_still_the_2d_idiom():
    result = exercise("softmax").check(_sums_without_keepdim_on_a_batch_only)
    assert result.status == WRONG and result.message.startswith("Right for a matrix, but not for a batch")
    assert "has no keepdim=True" not in result.message and "raised RuntimeError" in result.message


# --- The re-run: at most once per verdict, and none where it ran out of time ---


def _reference(x):
    return x * 2


def test_the_call_is_re_run_at_most_once_per_verdict():
    calls, asked = [], []

    def counted(x):
        calls.append(1)
        return x / x.sum(-1)  # (2, 3) / (2,)

    def refuses(found, case):
        asked.append(found)
        return False

    refused = Mistake(hint="REFUSED", compute=None, error=r"must match", failed_at=refuses)
    result = check_function(counted, _reference, [(torch.rand(2, 3),)], name="f", mistakes=[refused, refused])
    assert result.status == WRONG and "has no keepdim=True" in result.message, result.message
    assert len(calls) == 2  # the check's call and one re-run, shared by both mistakes and lost_axis
    assert len(asked) == 2 and asked[0] is asked[1]


def test_a_re_run_out_of_time_names_nothing(monkeypatch):
    monkeypatch.setattr(failure, "LIMIT_S", 0.2)
    calls = []

    def fails_then_never_ends(x):
        calls.append(1)
        while len(calls) > 1:  # the re-run never ends
            x = x + 0
        return x / x.sum(-1)

    result = check_function(fails_then_never_ends, _reference, [(torch.rand(2, 3),)], name="f")
    assert result.status == ERROR and " raised RuntimeError on input #1" in result.message, result.message
    assert "keepdim" not in result.message and len(calls) == 2
