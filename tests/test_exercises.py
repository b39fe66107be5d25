"""The contract every registered exercise keeps, tested once for all of them.

For each exercise in ``checks.EXERCISES``: the worked solution and every correct alternative
pass; each catalogued mistake's learner-style example gets its own hint and no other; the
starter reports "not attempted"; the global random state is untouched; an exception is
reported by name; changing the inputs in place, a wrong shape or a wrong value are handled.
A new exercise is covered as soon as it is registered. Exercise-specific tests are at the end.
"""

import inspect
import itertools

import pytest
import torch
from transformer_course import checks
from transformer_course.checks import (
    ERROR,
    EXERCISES,
    NOT_ATTEMPTED,
    WRONG,
    Seq2SeqParts,
    check_function,
    exercise,
)
from transformer_course.checks.generation import CountingModel
from transformer_course.model import Transformer, TransformerConfig

ALTERNATIVES = [
    pytest.param(ex, fn, id=f"{ex.name}: {name}") for ex in EXERCISES for name, fn in ex.alternatives.items()
]
MISTAKES = [pytest.param(ex, m, id=f"{ex.name}: {m.name}") for ex in EXERCISES for m in ex.mistakes]
each_exercise = pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.name)


def map_tensors(fn, out, *, numbers=False):
    """``fn`` applied to every tensor of an output (a tensor, or a tuple/list of them), and with
    ``numbers`` to every float too (a training step returns the loss as a float)."""
    if isinstance(out, tuple | list):
        return type(out)(map_tensors(fn, o, numbers=numbers) for o in out)
    if isinstance(out, torch.Tensor) or (numbers and isinstance(out, float)):
        return fn(out)
    return out


def test_the_registry_is_complete():
    names = [ex.name for ex in EXERCISES]
    assert len(set(names)) == len(names)
    exported = {n for n in checks.__all__ if n.startswith("check_") and n not in ("check_function",)}
    assert exported - {"check_then_batch"} == {f"check_{n}" for n in names}
    assert [ex.chapter for ex in EXERCISES] == sorted(ex.chapter for ex in EXERCISES)
    assert checks.exercise("softmax") is next(ex for ex in EXERCISES if ex.name == "softmax")
    with pytest.raises(ValueError, match="name must be one of"):
        checks.exercise("softmaks")


@each_exercise
def test_the_catalogue_is_well_formed(ex):
    assert getattr(checks, f"check_{ex.name}") is ex.check
    assert ex.alternatives and ex.mistakes
    names = [m.name for m in ex.mistakes]
    assert all(names) and len(set(names)) == len(names)
    for m in ex.mistakes:
        assert m.hint and m.example is not None and m.example is not m.compute, m.name
    # The starter has the solution's signature, so the chapter's cell and the checker agree.
    assert list(inspect.signature(ex.starter).parameters) == list(inspect.signature(ex.solution).parameters)


@each_exercise
def test_the_solution_passes(ex):
    result = ex.check(ex.solution)
    assert result.passed, result.message
    assert ex.name in result.message


@pytest.mark.parametrize(("ex", "fn"), ALTERNATIVES)
def test_each_correct_alternative_passes(ex, fn):
    result = ex.check(fn)
    assert result.passed, result.message


@pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")  # k.T on a batch, on purpose
@pytest.mark.parametrize(("ex", "mistake"), MISTAKES)
def test_each_mistake_gets_its_own_hint_and_no_other(ex, mistake):
    result = ex.check(mistake.example)
    assert result.status == WRONG and mistake.hint in result.message, result.message
    others = {m.hint for m in ex.mistakes} - {mistake.hint}
    assert not [h for h in others if h in result.message]


@each_exercise
def test_the_starter_is_reported_as_not_attempted(ex):
    result = ex.check(ex.starter)  # does not raise
    assert result.status == NOT_ATTEMPTED and ex.name in result.message
    assert "not attempted" in result._repr_html_()


@each_exercise
def test_a_check_leaves_the_global_random_state_alone(ex):
    def draws_randomly(*args):
        torch.rand(5)  # e.g. dropout, or sampling where greedy was asked
        return ex.solution(*args)

    before = torch.get_rng_state()
    for fn in (ex.solution, ex.starter, draws_randomly, ex.mistakes[0].example):
        ex.check(fn)
    assert torch.equal(torch.get_rng_state(), before)


@each_exercise
def test_an_exception_is_reported_by_name(ex):
    class LearnerBug(Exception):
        pass

    def broken(*args):
        raise LearnerBug("index 7 is out of range")

    result = ex.check(broken)
    assert result.status == ERROR and "LearnerBug" in result.message and "index 7" in result.message


@each_exercise
def test_a_function_with_other_parameters_is_told_to_keep_the_starters(ex):
    """Parameters removed, or one too many without a default: the call itself fails."""
    arity = len(inspect.signature(ex.starter).parameters)
    for wrong in (lambda x: x, lambda a, b, c, d, e, f, g: a):
        if len(inspect.signature(wrong).parameters) == arity:
            continue
        result = ex.check(wrong)
        assert result.status == WRONG and "parameters of the starter cell" in result.message, result.message


@each_exercise
def test_a_type_error_inside_the_function_is_not_blamed_on_its_parameters(ex):
    def inner_bug(*args):
        return sorted(1)  # TypeError: 'int' object is not iterable

    def bad_call_inside(*args):
        return (lambda a: a)()  # "missing 1 required positional argument", inside the learner's code

    for fn in (inner_bug, bad_call_inside):
        result = ex.check(fn)
        assert result.status == ERROR and "starter cell" not in result.message, result.message


@each_exercise
def test_returning_an_input_that_is_no_number_is_not_called_random(ex):
    """A module or a list handed back is a new copy at every call: that is not drawing."""
    result = ex.check(lambda *args: args[0])
    assert not result.passed
    assert "call to call" not in result.message and "dropout" not in result.message.lower(), result.message


@each_exercise
def test_changing_the_inputs_in_place_cannot_spoil_the_check(ex):
    def vandal(*args):
        out = map_tensors(torch.clone, ex.solution(*args))
        with torch.no_grad():
            for arg in args:
                if isinstance(arg, torch.Tensor):
                    arg.fill_(3)
                elif isinstance(arg, torch.nn.Module) and not ex.updates_in_place:
                    for p in arg.parameters():
                        p.fill_(0.5)
        return out

    result = ex.check(vandal)
    assert result.passed, result.message


@each_exercise
def test_a_wrong_shape_is_explained(ex):
    seen = []

    def unsqueezed(t):
        seen.append(t)
        return t.unsqueeze(0)

    result = ex.check(lambda *args: map_tensors(unsqueezed, ex.solution(*args)))
    if not seen:
        pytest.skip(f"{ex.name} returns a number: it has no shape to get wrong")
    assert result.status == WRONG and "shape" in result.message, result.message


@each_exercise
def test_an_unknown_mistake_says_where_it_differs(ex):
    result = ex.check(lambda *args: map_tensors(lambda t: t + 1, ex.solution(*args), numbers=True))
    assert result.status == WRONG, result.message
    if ex.name == "sample_next_token":  # id V-1 + 1 is no id at all: that is named
        assert "0 to V-1" in result.message or "differs from the reference" in result.message
        return
    assert "differs from the reference on input #1" in result.message
    assert "largest difference" in result.message or "expected" in result.message


# --- Exercise-specific ---


def test_attention_says_which_part_of_the_pair_differs():
    def output_off(*args):
        out, weights = ex_solution("attention")(*args)
        return out * 2, weights

    message = checks.check_attention(output_off).message
    assert "the output (item 0) differs" in message and "the weights (item 1) is right" in message
    kind = checks.check_attention(lambda *a: {"output": 1}).message
    assert kind.endswith("expected a tuple of 2 (output, weights), got a dict")


def test_a_pair_where_one_tensor_is_expected_says_which_item_is_right():
    def returns_the_pair(x, *weights):
        out = ex_solution("multi_head_attention")(x, *weights)
        return out, torch.zeros(1)

    message = checks.check_multi_head_attention(returns_the_pair).message
    assert "got a tuple of 2; its item 0 is the right answer: return only that" in message


def test_a_batch_only_failure_keeps_the_details():
    result = checks.check_attention_scores(lambda q, k: q @ k.permute(*reversed(range(k.dim()))))
    assert result.status == WRONG and "does not swap the last two dimensions" in result.message
    assert "raised RuntimeError on batched input #1" in result.message


def test_greedy_reports_a_prefix_without_its_batch_dimension():
    result = checks.check_greedy_decode(lambda f, p, n, e: f(p))  # forgot the batch dimension
    assert result.status == ERROR and "(1, t)" in result.message


@pytest.mark.parametrize("seed", range(100))
def test_greedy_rejects_a_decoder_that_samples_whatever_its_seed(seed):
    def sampler(logits_fn, prompt, max_new_tokens, eos_id):
        gen = torch.Generator().manual_seed(seed)  # its own random numbers, the same every call
        ids = prompt.clone()
        for _ in range(max_new_tokens):
            probs = torch.softmax(logits_fn(ids.unsqueeze(0))[0, -1], dim=-1)
            token = torch.multinomial(probs, 1, generator=gen)
            ids = torch.cat([ids, token])
            if int(token) == eos_id:
                break
        return ids

    assert checks.check_greedy_decode(sampler).status == WRONG


def test_the_fake_model_depends_on_history_and_stops():
    model = CountingModel(stop_at=4)
    a = model(torch.tensor([[3, 5, 2]]))[0, -1].argmax()
    b = model(torch.tensor([[5, 3, 2]]))[0, -1].argmax()
    assert a != b  # order of the history matters
    assert model(torch.tensor([[3, 5, 2, 4]]))[0, -1].argmax() == model.eos_id
    # causal: earlier rows do not change when a token is appended
    assert torch.equal(model(torch.tensor([[3, 5, 2, 4]]))[0, :3], model(torch.tensor([[3, 5, 2]]))[0])


def test_softmax_cases_span_thousands_so_min_and_mean_shifts_overflow():
    huge = torch.tensor([[-1000.0, 0.0, 1000.0]])
    for shift in (huge.amin(dim=-1, keepdim=True), huge.mean(dim=-1, keepdim=True)):
        e = (huge - shift).exp()
        assert not torch.isfinite(e / e.sum(dim=-1, keepdim=True)).all()
    result = checks.check_softmax(lambda x: (x - x.mean(dim=-1, keepdim=True)).softmax(dim=-1))
    assert result.passed  # torch.softmax subtracts the max itself: only the by-hand exp overflows


def test_the_attention_inputs_are_not_saturated():
    from transformer_course.checks.head import _cases
    from transformer_course.checks.head_inputs import edge_cases

    # Round 44's one token and large scores saturate on purpose: the usual cases must not.
    for x, w_q, w_k, _ in _cases()[: -len(edge_cases())]:
        q, k = x @ w_q, x @ w_k
        weights = torch.softmax(q @ k.T / q.shape[-1] ** 0.5, dim=-1)
        assert weights.max() < 0.95  # no row puts (almost) everything on one key


def test_the_mask_checker_ignores_only_rows_that_see_nothing():
    from transformer_course.checks.masks import _cases

    scores, ids, pad = _cases()[1]  # left padding: its first two queries see nothing
    result = checks.check_causal_masked_weights(
        lambda s, i, p: ex_solution("causal_masked_weights")(s, i, p).nan_to_num(7.0)
    )
    assert result.passed, result.message  # whatever is in those rows
    assert (ids[0, :2] == pad).all()


def test_the_forward_exercise_is_the_lib_models_forward():
    from transformer_course.checks.assembly import _cases, forward

    parts, src, trg_in = _cases()[0]
    config = TransformerConfig(vocab_size=12, d_model=16, num_heads=2, num_encoder_layers=1,
                               num_decoder_layers=1, d_ff=32, dropout=0.0, max_len=16)  # fmt: skip
    model = Transformer(config).eval()
    with torch.no_grad():
        assert torch.allclose(forward(Seq2SeqParts.of(model), src, trg_in), model(src, trg_in), atol=1e-5)
    assert parts.positions.shape == (20, 16)  # max_len 20, not 16 = d_model: an error's sizes tell them apart
    with pytest.raises(ValueError, match="model must be a Transformer"):
        Seq2SeqParts.of(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="share one token table"):
        Seq2SeqParts.of(Transformer(config.replace(tie_embeddings=False, trg_vocab_size=13)))


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("grad", [False, True])
def test_the_gpt_forward_exercise_is_the_lib_models_forward(layers, grad):
    """The checker's reference is lib's DecoderOnlyTransformer, with and without a gradient
    (training takes another attention path) and on more blocks than its own cases have."""
    from transformer_course.checks.gpt_forward import GptParts, forward, solution
    from transformer_course.model import DecoderOnlyTransformer

    config = TransformerConfig(vocab_size=11, d_model=24, num_heads=3, num_decoder_layers=layers, d_ff=40,
                               dropout=0.0, max_len=20, positional="learned", norm_first=True)  # fmt: skip
    torch.manual_seed(layers)
    model = DecoderOnlyTransformer(config).eval()
    ids = torch.randint(1, 11, (3, 9))  # no <pad> (0)
    with torch.set_grad_enabled(grad):
        want = model(ids)
        assert torch.allclose(forward(GptParts.of(model), ids), want, atol=1e-5)
        assert torch.allclose(solution(GptParts.of(model), ids), want, atol=1e-5)
    with pytest.raises(ValueError, match="model must be a DecoderOnlyTransformer"):
        GptParts.of(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="learned positions"):
        GptParts.of(DecoderOnlyTransformer(config.replace(positional="sinusoidal")))


def test_the_encoder_layer_is_checked_against_pytorchs_layer():
    from transformer_course.checks.encoder_layer import _cases, reference

    layer, x, mask, theirs = _cases()[0]
    assert isinstance(theirs, torch.nn.TransformerEncoderLayer)
    assert torch.allclose(reference(layer, x, mask, theirs), layer(x, mask), atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_a_correct_sampler_passes_whatever_the_random_numbers(seed):
    from transformer_course.checks.sampling import ATOL, _cases, _frequencies, distribution

    for name, fn in exercise("sample_next_token").alternatives.items():
        result = check_function(_frequencies(fn), distribution, _cases(), name=name, atol=ATOL, seed=seed)
        assert result.passed, result.message


def test_the_sampling_distributions_are_far_apart():
    from transformer_course.checks.sampling import ATOL, MISTAKES, _cases, distribution

    for case in _cases():
        named = {m.name: m.compute(*case) for m in MISTAKES if m.compute is not None}
        named["right"] = distribution(*case)
        for (a, p), (b, q) in itertools.combinations(named.items(), 2):
            gap = float((p - q).abs().max())
            assert gap < 1e-9 or gap >= 3 * ATOL, (a, b, case[1:], gap)


def test_a_training_step_that_updates_the_model_passes_only_in_the_right_order():
    message = checks.check_train_step(
        lambda model, opt, loss_fn, batch: (opt.zero_grad(), loss_fn(model, batch).item())[1]
    ).message
    assert "The weights never changed" in message


def ex_solution(name):
    return exercise(name).solution
