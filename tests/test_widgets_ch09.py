"""Chapter 09's explorer: every control changes the figures it drives; bad input is a message."""

import html

import pytest
import torch
from transformer_course import stories
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.widgets import StoryExplorer
from widget_state import changed, snapshot

GENERATOR = stories.StoryGenerator()
VOCAB = stories.story_vocab()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(VOCAB), d_model=32, num_heads=2, num_decoder_layers=2, d_ff=64,
        max_len=GENERATOR.max_tokens(), dropout=0.0, norm_first=True, positional="learned",
    )  # fmt: skip
    return DecoderOnlyTransformer(config).eval()


@pytest.fixture
def explorer(model):
    return StoryExplorer(model, VOCAB, generator=GENERATOR, max_new_tokens=12)


def test_it_writes_after_the_prompt_and_shows_every_head(explorer, model):
    gen = explorer.generation
    prompt = VOCAB.encode(explorer.value("text"), add_bos=True)
    assert torch.equal(gen.ids[: len(prompt)], prompt) and 1 <= len(gen.steps) <= 12
    heat = explorer.figures["attention"].data[0]
    layers, heads = 2, 2
    assert heat.z.shape == (layers * heads, len(prompt))  # from the last prompt token over the prompt
    # named from 0, as the chapter names the heads it finds (PronounHead.layer, .head)
    names = list(explorer.figures["attention"].layout.yaxis.ticktext)
    assert names == ["layer 0 head 0", "layer 0 head 1", "layer 1 head 0", "layer 1 head 1"]
    # the token the row is read from in the title; the token chosen there in the info line
    words = VOCAB.tokens(gen.ids)
    assert (
        explorer.figures["attention"].layout.title.text
        == f"Each head's attention from '{words[len(prompt) - 1]}'"
    )
    assert f"New token 1 of {len(gen.steps)}: &#x27;{words[len(prompt)]}&#x27;" in explorer.message.value
    assert "<u" in explorer.views["story"].value or "underline" in explorer.views["story"].value


def test_the_bars_carry_the_stories_own_probabilities(explorer):
    bars, truth, _values = explorer.figures["distribution"].data
    exact = GENERATOR.next_token_probs(VOCAB.tokens(explorer.generation.steps[0].prefix))
    shown = dict(zip(bars.customdata, truth.y, strict=True))
    for word, p in shown.items():
        assert p == pytest.approx(exact.get(word, 0.0), abs=1e-6)
    assert max(exact, key=exact.get) in shown  # the likeliest true token is among the bars


@pytest.mark.parametrize(
    "control, value",
    [
        ("temperature", 0.3),
        ("top_k", 3),
        ("top_p", 0.5),
        ("seed", 7),
        ("step", 2),
        ("text", "tom and lily met"),
    ],
)
def test_each_control_moves_the_figures(explorer, control, value):
    before = snapshot(explorer)
    explorer.controls[control].value = value
    assert changed(before, snapshot(explorer)), control
    assert "⚠" not in explorer.message.value, explorer.message.value


def test_temperature_zero_is_greedy(explorer, model):
    explorer.controls["temperature"].value = 0.0
    first = explorer.generation.ids.clone()
    explorer.controls["seed"].value = 9
    assert torch.equal(explorer.generation.ids, first)  # no draw: the seed changes nothing
    step = explorer.generation.steps[0]
    assert step.chosen == int(model(step.prefix.unsqueeze(0))[0, -1].argmax())


def test_the_verdict_is_the_generators(explorer):
    for seed in range(4):
        explorer.controls["seed"].value = seed
        words = VOCAB.tokens(explorer.generation.ids)
        if explorer.generation.steps[-1].chosen == VOCAB.eos_id:
            assert explorer.accepted == GENERATOR.is_story(words)
        else:
            assert explorer.accepted is None and "not finished" in explorer.message.value


def test_the_first_mistake_is_named_and_struck_through(explorer):
    """Where the story stops being one, the info line says so (which new token, what a story
    has there) and the story view strikes that token through; a story with none has no mark."""
    seen = set()
    for seed in range(8):
        explorer.controls["seed"].value = seed
        words = VOCAB.tokens(explorer.generation.ids)
        finished = explorer.generation.steps[-1].chosen == VOCAB.eos_id
        mistake = GENERATOR.first_mistake(words, finished=finished)
        assert explorer.mistake == mistake
        story, message = explorer.views["story"].value, explorer.message.value
        seen.add(mistake is None)
        if mistake is None:
            assert "tc-mistake" not in story and "Struck through" not in story
            continue
        new = mistake.position - len(VOCAB.encode(explorer.value("text"), add_bos=True)) + 1
        assert f"at new token {new}: " in message and html.escape(repr(mistake.token)) in message
        assert story.count('class="tc-mistake"') == 1 and "Struck through" in story
        marked = story.split('class="tc-mistake"')[1].split(">", 1)[1].split("<", 1)[0]
        assert marked == html.escape(mistake.token)
    assert False in seen  # the untrained model went wrong at least once


def test_a_mistake_in_the_prompt_is_the_prompts(model):
    explorer = StoryExplorer(model, VOCAB, generator=GENERATOR, prompt="tom and tom")
    assert explorer.mistake.position == 3 and explorer.mistake.token == "tom"
    assert "in your prompt: word 3, &#x27;tom&#x27; after &#x27;… tom and&#x27;" in explorer.message.value
    assert "the model made a mistake" not in explorer.message.value  # the prompt's, not the model's


@pytest.mark.parametrize(
    "text, says",
    [("", "empty"), ("the " * 80, "tokens"), ("lily ate a zeppelin", "zeppelin")],
)
def test_bad_prompts_are_messages(explorer, text, says):
    explorer.controls["text"].value = text
    assert says in explorer.message.value
    if says != "zeppelin":  # an unknown word is a note; the model still writes
        assert "⚠" in explorer.message.value


def test_a_prompt_no_story_starts_with_still_writes(explorer):
    explorer.controls["text"].value = "pizza pizza pizza"
    assert "No story starts this way" in explorer.message.value
    assert len(explorer.figures["distribution"].data) == 1  # the model's bars alone


@pytest.mark.parametrize(
    "kwargs, says",
    [
        (dict(model=torch.nn.Linear(2, 2)), "model must be a DecoderOnlyTransformer"),
        (dict(vocab=["a"]), "vocab must be a Vocab"),
        (dict(generator="stories"), "generator must be a StoryGenerator"),
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_arguments_name_themselves(model, kwargs, says):
    args = dict(model=model, vocab=VOCAB) | kwargs
    with pytest.raises(ValueError, match=says):
        StoryExplorer(args.pop("model"), args.pop("vocab"), **args)


def test_a_token_no_story_contains_is_pointed_out():
    """A model that writes <pad> (here: an untied output layer whose bias favours it) gets a
    note saying no story contains it; a story without one gets no such note."""
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(VOCAB), d_model=16, num_heads=2, num_decoder_layers=1, d_ff=32,
        max_len=GENERATOR.max_tokens(), dropout=0.0, norm_first=True, positional="learned",
        tie_embeddings=False,
    )  # fmt: skip
    model = DecoderOnlyTransformer(config).eval()
    with torch.no_grad():
        model.output.bias.zero_()
        model.output.bias[VOCAB.pad_id] = 50.0  # <pad> every time
    explorer = StoryExplorer(model, VOCAB, generator=GENERATOR, max_new_tokens=5)
    assert VOCAB.tokens(explorer.generation.new_ids) == ["<pad>"] * 5
    assert "wrote '&lt;pad&gt;', which no story contains" in explorer.message.value.replace("&#x27;", "'")
    with torch.no_grad():
        model.output.bias[VOCAB.pad_id] = 0.0
        model.output.bias[VOCAB.eos_id] = 50.0  # <eos> at once: a proper end, nothing odd
    explorer.controls["seed"].value = 1
    assert "no story contains" not in explorer.message.value


def test_a_step_past_the_end_of_a_shorter_story_is_one_update(explorer, monkeypatch):
    """The step slider's max follows the story; when a shorter story clamps it, the explorer
    renders once and says "New token" once (the clamp fired a second render inside the first)."""
    lengths = {}
    for seed in range(20):
        explorer.controls["seed"].value = seed
        lengths[seed] = len(explorer.generation.steps)
    long, short = max(lengths, key=lengths.get), min(lengths, key=lengths.get)
    assert lengths[long] > lengths[short]
    explorer.controls["seed"].value = long
    explorer.controls["step"].value = lengths[long]
    renders = []
    render = explorer.render
    monkeypatch.setattr(explorer, "render", lambda: renders.append(1) or render())
    explorer.controls["seed"].value = short
    assert len(renders) == 1 and explorer.controls["step"].value == lengths[short]
    assert explorer.message.value.count("New token") == 1
    assert f"New token {lengths[short]} of {lengths[short]}" in explorer.message.value


def test_the_bars_say_what_the_token_is_drawn_from(explorer, model):
    """At temperature 1 with every token allowed the bars are the model's own distribution;
    reshaped by the knobs they say so; at temperature 0 (greedy) they are the model's own
    distribution again, not a certainty, and a note says why the seed moves nothing."""

    def bars():
        return explorer.figures["distribution"].data[0]

    def own_probs():
        step = explorer.generation.steps[explorer.controls["step"].value - 1]
        with torch.no_grad():
            return torch.softmax(model(step.prefix.unsqueeze(0))[0, -1], dim=-1)

    assert bars().name == "model"
    explorer.controls["temperature"].value = 2.0
    explorer.controls["top_k"].value = 5
    assert bars().name == "model, reshaped"
    assert "from the model&#x27;s distribution reshaped by T = 2, top-k 5, after" in explorer.message.value
    explorer.controls["temperature"].value = 0.0
    assert bars().name == "model"
    probs = own_probs()
    for word, p in zip(bars().customdata, bars().y, strict=True):
        assert p == pytest.approx(float(probs[VOCAB.stoi[word]]), abs=1e-5)
    assert max(bars().y) < 0.999  # an untrained model is not sure, and the bars say so
    message = explorer.message.value
    assert "the likeliest (probability" in message and "seed, top-k and top-p change nothing" in message
    explorer.controls["temperature"].value = 1.0
    explorer.controls["top_k"].value = 1
    assert bars().name == "model, reshaped"
    assert "from the model&#x27;s distribution reshaped by top-k 1, after" in explorer.message.value
    assert "the seed changes nothing" in explorer.message.value


def test_the_prompt_is_shown_as_typed(model):
    """An unknown word is read as <unk>, but the story and the info line show the word typed."""
    explorer = StoryExplorer(model, VOCAB, generator=GENERATOR, prompt="lily and tom were in the zeppelin .")
    story = explorer.views["story"].value
    assert "zeppelin" in story and "&lt;unk&gt;" not in story.split("</div>")[0].split("[")[0]
    message = html.unescape(explorer.message.value)
    assert "in your prompt: word 7, 'zeppelin' (read as <unk>) after '… tom were in the'" in message


def test_an_empty_prompt_suggests_a_story_start(explorer):
    explorer.controls["text"].value = "  "
    message = html.unescape(explorer.message.value)
    example = message.split("e.g. '")[1].split("'.")[0]
    assert GENERATOR.first_mistake(example, finished=False) is None  # it can start a story
    explorer.controls["text"].value = example
    assert "⚠" not in explorer.message.value


def test_an_unfinished_story_counts_new_tokens_and_says_when_positions_ran_out(model):
    explorer = StoryExplorer(model, VOCAB, generator=GENERATOR, prompt="lily and tom", max_new_tokens=3)
    assert explorer.generation.steps[-1].chosen != VOCAB.eos_id  # the untrained model goes on
    assert "not finished after 3 new tokens (no &lt;eos&gt; yet)" in explorer.message.value
    room = model.config.max_len - 1  # the longest prompt: every position but <bos> and one new token
    explorer = StoryExplorer(model, VOCAB, generator=GENERATOR, prompt="the " * (room - 1), max_new_tokens=5)
    assert len(explorer.generation.steps) == 1 and explorer.generation.steps[-1].chosen != VOCAB.eos_id
    message = html.unescape(explorer.message.value)
    says = f"after 1 new token (no <eos> yet; the model has no positions left after {room + 1} tokens)"
    assert says in message
