"""A tenth audit of the checkers of chapters 08 and 09: wrong answers that used to get the generic
"differs from the reference" (or a bare error) now get the hint of the mistake they are, and two
messages say what the learner can act on.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example`` (and the tryout's answer): the greedy decoder reading the second-to-last position,
the sampler keeping the k smallest or taking its softmax or its top-k down the batch, the GPT
run through its blocks backwards or through its token table as the output, the training step's
loss returned in a list, and the loss's model called with its arguments swapped (which now
leads with the order). A sampler no mistake matches is told the row of logits the way the
learner can find it, not as an index into the checker's tiled batch. Right answers written
another way must still pass.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.masks import causal_mask


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


def hint(name, mistake):
    return next(m.hint for m in exercise(name).mistakes if m.name == mistake)


# --- 08 greedy decoding ---


def _greedy(logits_fn, prompt, max_new_tokens, eos_id, *, at):
    out = prompt.tolist()
    for _ in range(max_new_tokens):
        logits = logits_fn(torch.tensor([out]))
        nxt = int(torch.argmax(logits[:, at, :], dim=-1))
        out.append(nxt)
        if nxt == eos_id:
            break
    return torch.tensor(out)


def test_greedy_reading_the_second_to_last_position_is_named():
    result = checks.check_greedy_decode(lambda f, p, n, e: _greedy(f, p, n, e, at=-2))
    says(result, "second-to-last position", "logits[0, -1]")


def test_greedy_reading_the_last_position_with_a_list_passes():
    assert checks.check_greedy_decode(lambda f, p, n, e: _greedy(f, p, n, e, at=-1)).status == PASSED


# --- 08 sampling with a temperature and top-k ---


def _sampler(logits, temperature, top_k, *, threshold=None, dim=-1):
    scaled = logits / temperature
    if top_k is not None:
        scaled = torch.where(scaled >= threshold(scaled, top_k), scaled, torch.tensor(-math.inf))
    return torch.distributions.Categorical(probs=F.softmax(scaled, dim=dim)).sample()


def _sort_descending(x, k):
    return torch.sort(x, dim=1, descending=True).values[:, k - 1 : k]


def test_sampling_that_keeps_the_k_smallest_is_named():
    def keeps_the_smallest(logits, temperature, top_k):
        logits = logits / temperature
        if top_k is not None:
            kth = torch.sort(logits, dim=-1).values[:, top_k - 1].unsqueeze(1)  # ascending
            logits[logits > kth] = -float("inf")
        return torch.multinomial(logits.softmax(-1), 1).flatten()

    says(checks.check_sample_next_token(keeps_the_smallest), "k SMALLEST logits", "logits < kth")


def test_sampling_with_a_top_k_down_the_batch_is_named():
    sample = lambda lg, t, k: _sampler(lg, t, k, threshold=lambda x, k: torch.topk(x, k, 0)[0][-1])  # noqa: E731
    says(checks.check_sample_next_token(sample), hint("sample_next_token", "top-k down the batch"))


def test_sampling_with_the_softmax_down_the_batch_is_named():
    sample = lambda lg, t, k: _sampler(lg, t, k, threshold=_sort_descending, dim=0)  # noqa: E731
    says(checks.check_sample_next_token(sample), hint("sample_next_token", "softmax down the batch"))


def test_sampling_by_a_descending_sort_over_dim_1_passes():
    sample = lambda lg, t, k: _sampler(lg, t, k, threshold=_sort_descending, dim=1)  # noqa: E731
    assert checks.check_sample_next_token(sample).status == PASSED


def _first_rows_tokens(logits, temperature, top_k):
    # (The first row's k-th largest used as every row's threshold is named since round 50b.)
    logits = logits / temperature
    if top_k is not None:
        keep = logits.topk(top_k).indices[0]  # the first row's top-k tokens, kept in every row
        hide = torch.full_like(logits, float("-inf"))
        hide[:, keep] = 0.0
        logits = logits + hide
    return torch.multinomial(logits.softmax(-1), 1).squeeze(-1)


def test_a_sampler_no_mistake_matches_is_told_the_row_of_logits_it_can_find():
    # Wrong on the second of the two rows of logits only: the message used to call it row
    # 10000, its index in the batch the checker tiles, which the learner never sees.
    result = checks.check_sample_next_token(_first_rows_tokens)
    says(result, "input #3 (temperature 1, top_k 3)", "for logits row 1 ", "of 10,000 draws")
    assert "10000" not in result.message and "index" not in result.message
    assert not [m.name for m in exercise("sample_next_token").mistakes if m.hint in result.message]


# --- 09 the GPT's forward pass ---


def _gpt(parts, ids, *, order=lambda n: range(n), output=None):
    length = ids.shape[-1]
    x = parts.token(ids) * parts.token.embedding_dim**0.5 + parts.positions(torch.arange(length))[None]
    for i in order(len(parts.blocks)):
        x = parts.blocks[i](x, causal_mask(length))
    x = parts.norm(x)
    return x @ parts.token.weight.T if output is None else output(parts, x)


def test_gpt_running_its_blocks_backwards_is_named():
    backwards = lambda parts, ids: _gpt(parts, ids, order=lambda n: range(n - 1, -1, -1))  # noqa: E731
    says(checks.check_gpt_forward(backwards), "blocks in reverse order", "for block in parts.blocks")


def test_gpt_through_its_token_table_as_the_output_is_named():
    table = lambda parts, ids: _gpt(parts, ids, output=lambda p, x: p.token(x))  # noqa: E731
    says(checks.check_gpt_forward(table), "gave an nn.Embedding floats", "x @ parts.token.weight.T")


def test_gpt_with_the_tied_output_as_a_linear_and_an_index_loop_passes():
    linear = lambda parts, ids: _gpt(parts, ids, output=lambda p, x: F.linear(x, p.token.weight))  # noqa: E731
    assert checks.check_gpt_forward(linear).status == PASSED


# --- 08 one training step ---


def _step(model, optimiser, loss_fn, batch, *, returns):
    optimiser.zero_grad(set_to_none=True)
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return returns(loss)


@pytest.mark.parametrize(
    "returns",
    [lambda loss: (loss.item(),), lambda loss: [loss.detach()], lambda loss: [loss.item()]],
    ids=["trailing comma", "[loss.detach()]", "[loss.item()]"],
)
def test_train_step_returning_the_loss_in_a_list_or_tuple_is_named(returns):
    result = checks.check_train_step(lambda m, o, f, b: _step(m, o, f, b, returns=returns))
    says(result, hint("train_step", "the loss in a list"))


def test_train_step_returning_float_of_the_loss_passes():
    step = lambda m, o, f, b: _step(m, o, f, b, returns=lambda loss: float(loss.detach()))  # noqa: E731
    assert checks.check_train_step(step).status == PASSED


def test_an_int_returned_without_a_step_names_no_mistake():
    # Not a loss cut down to an int, nor one in a list: no hint fits, the numbers are told.
    result = checks.check_train_step(lambda *args: 10**400)
    says(result, "expected 1.05602, got ", "inf")
    assert not [m.name for m in exercise("train_step").mistakes if m.hint in result.message]


# --- 08 the shifted-target loss ---


@pytest.mark.parametrize(
    "layout",
    [
        lambda logits, labels: (logits.flatten(0, 1), labels.flatten()),
        lambda logits, labels: (logits.permute(0, 2, 1), labels),
    ],
    ids=["flattened", "(B, V, T)"],
)
def test_a_loss_with_the_model_arguments_swapped_leads_with_the_order(layout):
    def swapped(model, src, trg, pad_id):
        inputs, labels = trg[:, :-1], trg[:, 1:]
        return F.cross_entropy(*layout(model(inputs, src), labels), ignore_index=pad_id)

    result = checks.check_teacher_forcing_loss(swapped)
    says(result, "model(src, trg[:, :-1])")
    assert result.message.startswith("The model takes the source first"), result.message


def test_a_loss_with_labels_of_the_wrong_length_is_not_told_of_a_swap():
    def unshifted_labels(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg.reshape(-1), ignore_index=pad_id)

    result = checks.check_teacher_forcing_loss(unshifted_labels)
    says(result, "do not have the same length")
    assert "source first" not in result.message  # its order is right: the swap has its own hint
