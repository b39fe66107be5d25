"""Chapter 08's exercise: the greedy-decoding checker passes the reference, names each mistake."""

import pytest
import torch
from transformer_course import generation
from transformer_course.checks import (
    ERROR,
    NOT_ATTEMPTED,
    PASSED,
    WRONG,
    _CountingModel,
    check_greedy_decode,
)


def build(
    logits_fn,
    prompt,
    max_new_tokens,
    eos_id,
    *,
    append=True,
    history=True,
    stop=True,
    eos_kept=True,
    pick="last",
    whole=True,
):
    """A learner-style greedy loop with one switch per mistake."""
    ids = prompt.clone()
    fed = prompt.clone()
    for _ in range(max_new_tokens):
        logits = logits_fn((fed if history else fed[-1:]).unsqueeze(0))  # (1, t, V)
        if pick == "last":
            token = logits[0, -1].argmax(dim=-1)
        elif pick == "axis":
            token = logits[0].argmax(dim=0)[-1]
        elif pick == "flat":
            token = logits.argmax()
        else:
            token = logits[0, 0].argmax()
        if stop and int(token) == eos_id and not eos_kept:
            break
        ids = torch.cat([ids, token.reshape(1)])
        if append:
            fed = ids
        if stop and int(token) == eos_id:
            break
    return ids if whole else ids[prompt.shape[0] :]


def test_reference_and_lib_pass():
    assert check_greedy_decode(build).status == PASSED

    def with_lib(logits_fn, prompt, max_new_tokens, eos_id):
        return generation.generate(logits_fn, prompt, max_new_tokens=max_new_tokens, eos_id=eos_id).ids

    assert check_greedy_decode(with_lib).passed


def test_unattempted_is_reported_not_raised():
    def learner(logits_fn, prompt, max_new_tokens, eos_id):
        raise NotImplementedError

    assert check_greedy_decode(learner).status == NOT_ATTEMPTED


def test_a_crash_is_reported():
    result = check_greedy_decode(lambda f, p, n, e: f(p))  # forgot the batch dimension
    assert result.status == ERROR and "(1, t)" in result.message


MISTAKES = {
    "no append": (dict(append=False), "never adds the chosen token"),
    "last token only": (dict(history=False), "only the last token"),
    "no eos stop": (dict(stop=False), "goes on after <eos>"),
    "eos dropped": (dict(eos_kept=False), "stopped before appending <eos>"),
    "wrong axis": (dict(pick="axis"), "wrong axis"),
    "flat argmax": (dict(pick="flat"), "flattens"),
    "first position": (dict(pick="first"), "first position"),
    "only new tokens": (dict(whole=False), "prompt followed by the new tokens"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_gets_its_own_hint(name):
    switches, words = MISTAKES[name]
    result = check_greedy_decode(lambda f, p, n, e: build(f, p, n, e, **switches))
    assert result.status == WRONG and words in result.message, result.message
    others = [w for n, (_, w) in MISTAKES.items() if n != name]
    assert not any(w in result.message for w in others)


def test_the_fake_model_depends_on_history_and_stops():
    model = _CountingModel(stop_at=4)
    a = model(torch.tensor([[3, 5, 2]]))[0, -1].argmax()
    b = model(torch.tensor([[5, 3, 2]]))[0, -1].argmax()
    assert a != b  # order of the history matters
    assert model(torch.tensor([[3, 5, 2, 4]]))[0, -1].argmax() == model.eos_id
    # causal: earlier rows do not change when a token is appended
    assert torch.equal(model(torch.tensor([[3, 5, 2, 4]]))[0, :3], model(torch.tensor([[3, 5, 2]]))[0])
