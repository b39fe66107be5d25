"""Round 48: a shape error no catalogued mistake names, raised where a reduction lost its axis.

A review found hand-written softmaxes and normalisations without keepdim=True answered with the
plain "raised" in every exercise that catalogues no keepdim slip, though the re-run shows the
cause. The harness now names it (``checks.lost_axis``): the reduction, the shape it gave, the
shape it met and keepdim's, but only where the learner's call, run again with keepdim=True on
that reduction, gives the reference's answer (a review, R8, found the reduction often right and
another operand wrong, or the reduction over the wrong axis). The same answers with the axis put
back pass; a shape error with no lost axis, or one a catalogued mistake names, keeps its verdict;
the learner's call is re-run at most once per verdict before the runs with keepdim.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from _lost_axis import hint_for
from transformer_course.checks import ERROR, PASSED, WRONG, exercise, failure
from transformer_course.checks.harness import Mistake, check_function


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
    # The learner's own call quoted, with its line, and the fix.
    assert re.match(r"Your `getattr\(t, how\)\(dim\)` on line \d+ has no keepdim=True", result.message), (
        result
    )
    assert f"keep the axis there: .{how}(dim=-1, keepdim=True). (" in result.message
    assert " raised RuntimeError on input #1: " in result.message  # the raised text follows


@pytest.mark.parametrize("style", ["keepdim", "[..., None]", "unsqueeze"])
@pytest.mark.parametrize(("name", "answer", "how"), ANSWERS, ids=IDS)
def test_the_same_answers_with_the_axis_kept_pass(name, answer, how, style):
    result = exercise(name).check(answer(style))
    assert result.status == PASSED, result.message


# --- What it says: the shapes, read from the re-run ---


def _normalised(e):
    return e / e.sum(-1, keepdim=True)


def test_a_broadcast_names_the_shape_given_met_and_keepdims():
    hint = hint_for(lambda e: e / e.sum(-1), _normalised, torch.rand(2, 5, 7))
    assert re.match(r"Your `e.sum\(-1\)` on line \d+ has no keepdim=True", hint), hint
    assert "the division (/) got shape (2, 5) from it, next to (2, 5, 7)" in hint
    assert "as a 1: (2, 5, 1). Your function then gives the right answer" in hint
    assert hint.endswith("keep the axis there: .sum(dim=-1, keepdim=True).")


def test_a_square_matrix_gives_the_one_shape_of_the_axis_reduced_and_a_max_its_values():
    hint = hint_for(
        lambda s: s - s.max(-1).values, lambda s: s - s.amax(-1, keepdim=True), torch.rand(2, 3, 3)
    )
    assert (
        re.match(r"Your `s.max\(-1\)` on line \d+ has no keepdim=True", hint) and "as a 1: (2, 3, 1)." in hint
    )
    assert hint.endswith("there: .max(dim=-1, keepdim=True).")  # .values or m, _ = as they wrote


def test_two_reductions_that_lost_their_axes_are_both_named():
    def my_layer_norm(x):
        mean = x.mean(-1)
        var = ((x - mean[..., None]) ** 2).mean(-1)
        return (x - mean[..., None]) / torch.sqrt(var + 1e-5)  # the var's axis never put back

    def by_hand(x):
        return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5)

    hint = hint_for(lambda x: (x - x.mean(-1)) / x.std(-1), lambda x: _standardised(x), torch.rand(2, 3, 4))
    assert re.match(r"Your `x.mean\(-1\)` on line (\d+) has no keepdim=True", hint), hint
    assert re.search(r"\(`x.std\(-1\)` on line \d+ needs it too\)", hint), hint
    assert hint.endswith("there: .mean(dim=-1, keepdim=True) and .std(dim=-1, keepdim=True).")
    hint = hint_for(my_layer_norm, by_hand, torch.rand(2, 3, 4))
    assert hint.startswith("Your `((x - mean[..., None]) ** 2).mean(-1)` on line"), hint


def _standardised(x):
    return (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)


@pytest.mark.parametrize(
    ("fn", "reference"),
    [
        (lambda x: x.mean(-1) @ x.mT, lambda x: x.mean(-1, keepdim=True) @ x.mT),  # not a broadcast
        (lambda e: e / e.sum(1), _normalised),  # the wrong axis: keepdim would not make it right
        (lambda e: e / e.sum(-1)[..., None, :], _normalised),  # put back at another place
        (lambda x: x / x.sum(-1, keepdim=True) @ x, _normalised),  # the axis kept; the product fails
        (lambda x: x / x.sum(-1)[..., None] @ x, _normalised),
        (lambda x: x @ x, _normalised),  # no reduction at all
    ],
    ids=["product", "wrong axis", "put back elsewhere", "keepdim", "[..., None]", "none"],
)
def test_a_shape_error_keepdim_would_not_mend_names_nothing(fn, reference):
    assert hint_for(fn, reference, torch.rand(2, 3, 3, 5)) is None


def test_an_error_that_is_not_about_shapes_names_nothing_and_is_not_re_run():
    calls = []

    def fn(x):
        calls.append(1)
        return x / x.sum(-1) if len(calls) > 1 else x[99]  # only the re-run would lose an axis

    hint = hint_for(fn, _normalised, torch.rand(2, 3))
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
    cases = [(torch.rand(2, 3),)]
    result = check_function(counted, _normalised, cases, name="f", mistakes=[refused, refused])
    assert result.status == WRONG and "has no keepdim=True" in result.message, result.message
    # The check's call, one re-run shared by both mistakes and lost_axis, one run with keepdim.
    assert len(calls) == 3
    assert len(asked) == 2 and asked[0] is asked[1]


def test_where_keepdim_does_not_give_the_reference_answer_the_plain_raised_stays():
    result = check_function(lambda x: x / x.sum(-1), _reference, [(torch.rand(2, 3),)], name="f")
    assert result.status == ERROR and "keepdim" not in result.message, result.message


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


# --- Review R8: a reduction right to drop its axis (or over the wrong axis), another operand wrong ---


def _cached_values_without_the_weights_axis(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], 2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], 2)
    scores = (q * keys).sum(-1) / math.sqrt(q.shape[-1])  # (B, h, t+1): the dot products, right
    weights = scores.softmax(-1)
    return (weights * values).sum(-2, keepdim=True), keys, values  # needs weights[..., None]


def _cached_weights_unsqueezed_at_the_wrong_place(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], 2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], 2)
    weights = ((q * keys).sum(-1) / math.sqrt(q.shape[-1])).softmax(-1)
    return (weights.unsqueeze(-2) * values).sum(-2, keepdim=True), keys, values


def _loss_one_hot_not_summed(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    picked = logits * torch.nn.functional.one_hot(labels, logits.shape[-1])  # .sum(-1) forgotten
    return (logits.logsumexp(-1) - picked)[labels != pad_id].mean()


def _loss_divided_by_the_mask_not_its_sum(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    nll = -logits.log_softmax(-1).gather(-1, labels[..., None]).squeeze(-1)
    mask = (labels != pad_id).float()
    return ((nll * mask).sum(-1) / mask).mean()  # mask.sum(-1) forgotten


def _loss_mask_with_an_extra_axis(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    nll = logits.logsumexp(-1) - logits.gather(-1, labels[..., None]).squeeze(-1)
    mask = (labels != pad_id)[..., None].float()  # (B, T, 1): the mistake
    return (nll * mask).sum() / mask.sum()


def _loss_log_softmax_over_the_positions(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    log_probs = logits - logits.logsumexp(1)  # over the positions, not the vocabulary
    return -log_probs.gather(-1, labels[..., None]).squeeze(-1)[labels != pad_id].mean()


def _multi_head_sum_over_the_heads(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    q, k, v = (t.view(b, length, num_heads, -1).transpose(1, 2) for t in (x @ w_q, x @ w_k, x @ w_v))
    e = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).exp()
    return (e / e.sum(1) @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


@pytest.mark.parametrize(
    ("name", "answer"),
    [
        ("cached_attention_step", _cached_values_without_the_weights_axis),
        ("cached_attention_step", _cached_weights_unsqueezed_at_the_wrong_place),
        ("teacher_forcing_loss", _loss_one_hot_not_summed),
        ("teacher_forcing_loss", _loss_divided_by_the_mask_not_its_sum),
        ("teacher_forcing_loss", _loss_mask_with_an_extra_axis),
        ("teacher_forcing_loss", _loss_log_softmax_over_the_positions),
        ("multi_head_attention", _multi_head_sum_over_the_heads),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_keepdim_is_not_named_where_it_would_not_mend_the_answer(name, answer):
    result = exercise(name).check(answer)
    assert not result.passed and "has no keepdim=True, so the axis" not in result.message, result.message


# --- Review R9: a reduction is its call site (a helper called twice, a loop), found where it is ---


def _total(t):
    return t.sum(-1)


def _loss_with_one_helper_for_both_sums(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    log_probs = logits - _total(logits.exp()).log()  # needs keepdim
    nll = -_total(log_probs * torch.nn.functional.one_hot(labels, logits.shape[-1]))  # must drop V
    mask = (labels != pad_id).float()
    return (nll * mask).sum() / mask.sum()


def _multi_head_with_one_helper_for_both_sums(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    q, k, v = (t.view(b, length, num_heads, -1).transpose(1, 2) for t in (x @ w_q, x @ w_k, x @ w_v))
    e = (_total(q[..., :, None, :] * k[..., None, :, :]) / q.shape[-1] ** 0.5).exp()  # right
    w = _total(e).reciprocal() * e  # needs keepdim, which would break the line above
    return (w @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


@pytest.mark.parametrize(
    ("name", "answer"),
    [
        ("teacher_forcing_loss", _loss_with_one_helper_for_both_sums),
        ("multi_head_attention", _multi_head_with_one_helper_for_both_sums),
    ],
    ids=["loss", "multi_head"],
)
def test_a_helper_right_at_one_call_and_wrong_at_the_other_is_not_named(name, answer):
    # keepdim in the helper mends the first call and breaks the second: no advice makes it right.
    result = exercise(name).check(answer)
    assert not result.passed and "has no keepdim=True, so the axis" not in result.message, result.message


def _softmax_of_a_dot_product_written_as_a_sum(q, k):
    e = (q[..., :, None, :] * k[..., None, :, :]).sum(-1).exp()  # the scores: a right sum
    return e / e.sum(-1)  # the axis lost


def test_the_sum_under_the_fraction_is_tried_before_the_dot_product_its_numerator_came_from():
    def reference(q, k):
        return torch.softmax(q @ k.mT, dim=-1)

    hint = hint_for(
        _softmax_of_a_dot_product_written_as_a_sum, reference, torch.rand(2, 3, 4), torch.rand(2, 3, 4)
    )
    assert hint.startswith("Your `e.sum(-1)` on line") and "next to (2, 3, 3)" in hint, hint


def _rows_normalised_in_a_loop(x):
    for _ in range(5):  # one site, five calls
        x = x / x.sum(-1)
    return x


def _rows_normalised_five_times(x):
    for _ in range(5):
        x = x / x.sum(-1, keepdim=True)
    return x


@pytest.mark.parametrize(
    ("fn", "reference", "written"),
    [
        (_rows_normalised_in_a_loop, _rows_normalised_five_times, "`x.sum(-1)`|.sum(dim=-1,"),
        (lambda e: e / e.sum(-1, False), _normalised, "`e.sum(-1, False)`|.sum(dim=-1,"),  # keepdim as False
        (lambda e: e / e.sum(axis=-1), _normalised, "`e.sum(axis=-1)`|.sum(dim=-1,"),
        (lambda e: e / torch.sum(e, dim=(-1,)), _normalised, "`torch.sum(e, dim=(-1,))`|.sum(dim=(-1,),"),
    ],
    ids=["loop", "keepdim False", "axis", "dim tuple"],
)
def test_a_loop_a_positional_keepdim_and_other_dims_are_named(fn, reference, written):
    hint = hint_for(fn, reference, torch.rand(2, 3, 5) + 0.5)
    quoted, fix = written.split("|")
    assert hint is not None and hint.startswith(f"Your {quoted} on line"), hint
    assert hint.endswith(f"there: {fix} keepdim=True).") and "needs it too" not in hint  # one site


def test_an_in_place_division_is_called_a_division():
    def divides_in_place(e):
        e = e.clone()
        e /= e.sum(-1)
        return e

    hint = hint_for(divides_in_place, _normalised, torch.rand(2, 3, 5))
    assert hint is not None and "the division (/) got shape (2, 3)" in hint, hint


def test_the_learners_prints_show_once_not_at_every_run(capsys):
    def prints(e):
        print("shape", e.shape)
        return e / e.sum(-1)

    result = check_function(prints, _normalised, [(torch.rand(2, 3),)], name="f")
    assert result.status == WRONG and "has no keepdim=True" in result.message, result.message
    assert capsys.readouterr().out.count("shape") == 1


# --- Review R10: the learner's own call quoted, so the advice points at one place ---


def test_a_partial_shared_by_a_right_and_a_wrong_sum_is_quoted_where_it_needs_keepdim():
    import functools

    def attention_with_a_partial(q, k):
        rs = functools.partial(torch.sum, dim=-1)
        e = rs(q[..., :, None, :] * k[..., None, :, :]).exp()  # the dot products: right to drop
        return e / rs(e)  # needs keepdim: rs(e, keepdim=True)

    hint = hint_for(
        attention_with_a_partial, lambda q, k: torch.softmax(q @ k.mT, -1), *torch.rand(2, 2, 3, 4)
    )
    assert hint is not None and hint.startswith("Your `rs(e)` on line"), hint


def test_two_calls_written_alike_on_two_lines_are_each_named():
    def centred_and_scaled(s):
        c = s - s.mean(-1)
        return c / c.abs().mean(-1)

    def reference(s):
        c = s - s.mean(-1, keepdim=True)
        return c / c.abs().mean(-1, keepdim=True)

    hint = hint_for(centred_and_scaled, reference, torch.rand(2, 3, 4))
    assert hint is not None and hint.startswith("Your `s.mean(-1)` on line"), hint
    assert re.search(r"\(`c.abs\(\).mean\(-1\)` on line \d+ needs it too\)", hint), hint


def test_the_same_line_in_two_notebook_cells_is_two_sites():
    cells = [compile("f = lambda e: e.sum(-1)", f"<ipython-input-{n}>", "exec") for n in (1, 2)]
    sites = []
    for code in cells:
        scope = {}
        exec(code, scope)
        with failure._Recorder() as recorder:
            scope["f"](torch.rand(2, 3))
        sites.extend(recorder.failure.reduced_at)
    assert len(sites) == 2 and sites[0] != sites[1]


# --- Review R11: the quote as the learner wrote it ---


def _run_cell(source: str, name: str):
    """``name`` from ``source`` run as a notebook cell is (IPython keeps its source in linecache)."""
    import linecache

    filename = "<ipython-input-48-cell>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = {"torch": torch}
    exec(compile(source, filename, "exec"), scope)
    return scope[name]


def test_a_quote_after_letters_of_more_than_one_byte_is_the_call():
    fn = _run_cell("def f(e):\n    σ = e / e.sum(-1); return σ\n", "f")
    hint = hint_for(fn, _normalised, torch.rand(2, 3, 5))
    assert hint.startswith("Your `e.sum(-1)` on line 2 has no keepdim=True"), hint


def test_one_call_written_twice_on_a_line_is_said_twice():
    fn = _run_cell(
        "def f(s):\n    return torch.exp(s - s.max(-1).values) / torch.exp(s - s.max(-1).values).sum(-1)\n",
        "f",
    )
    hint = hint_for(fn, lambda s: torch.softmax(s, -1), torch.rand(2, 3, 5))
    assert hint is not None and "`s.max(-1)` on line 2 (both of them)" in hint, hint


def test_a_backtick_in_the_call_does_not_end_the_code_span():
    fn = _run_cell("def f(e):\n    return e / e.sum(-1, **{'dim': -1} if '`' == '' else {})\n", "f")
    hint = hint_for(fn, _normalised, torch.rand(2, 3, 5))
    assert hint is not None and "'`'" not in hint and hint.count("`") % 2 == 0, hint
