"""Round 47's bad inputs: an encoder-only model for the pronoun probes, readings of different
stories mixed in stories_won, a Story whose tokens are not its sentences', special tokens in
the wrong place for encode, a pad_id the ids' dtype cannot hold."""

import pytest
import torch
from transformer_course import pronoun_heads as ph
from transformer_course.lm_training import story_batch_fn
from transformer_course.model import DecoderOnlyTransformer, EncoderOnlyTransformer, TransformerConfig
from transformer_course.stories import StoryGenerator, story_vocab
from transformer_course.story_ids import encode
from transformer_course.story_record import Story

GEN = StoryGenerator()
STORIES = GEN.sample(40, seed=0)
V = len(story_vocab())


def gpt() -> DecoderOnlyTransformer:
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=V, d_model=16, num_heads=2, num_decoder_layers=1, d_ff=32, max_len=64
    )
    return DecoderOnlyTransformer(config).eval()


# --- 1. a model without "decoder_self" ---

PROBES = [ph.pronoun_readings, ph.find_pronoun_head, ph.find_pronoun_heads]


@pytest.mark.parametrize("probe", PROBES, ids=lambda f: f.__name__)
def test_an_encoder_only_model_is_refused_by_name_before_it_runs(probe):
    config = TransformerConfig(
        vocab_size=V, d_model=16, num_heads=2, num_encoder_layers=1, d_ff=32, max_len=64
    )
    encoder = EncoderOnlyTransformer(config)
    calls = []
    encoder.register_forward_hook(lambda *_: calls.append(1))
    with pytest.raises(ValueError, match=r"^model must be a decoder-only model \(DecoderOnlyTransformer\)"):
        probe(encoder, STORIES[:4])
    assert calls == []  # refused before any work


class NoDecoderSelf(DecoderOnlyTransformer):
    """A model whose weights' kinds are known only from what attention_weights() hands back."""

    def attention_weights(self):
        return {"encoder_self": super().attention_weights()["decoder_self"]}


@pytest.mark.parametrize("probe", PROBES, ids=lambda f: f.__name__)
def test_weights_without_decoder_self_are_refused_by_name_not_as_a_key_error(probe):
    torch.manual_seed(0)
    model = NoDecoderSelf(gpt().config)
    with pytest.raises(ValueError, match=r"^model must be a decoder-only model .*got NoDecoderSelf"):
        probe(model, STORIES[:4])


# --- 2. stories_won over readings of different stories ---


def _heads(words, at):
    return {w: ph.PronounHead(0, 1, 0.5, at) for w in set(words)}


def test_stories_won_refuses_readings_of_a_different_number_of_stories():
    model = gpt()
    query, pronoun = (
        ph.pronoun_attention(model, STORIES[:8]),
        ph.pronoun_attention(model, STORIES[:2], at="pronoun"),
    )
    with pytest.raises(ValueError, match=r"^readings must all be of the same stories.*num_stories"):
        ph.stories_won({"query": query, "pronoun": pronoun}, _heads(query.words, "pronoun"))


def test_stories_won_refuses_readings_of_other_stories_of_the_same_number():
    model = gpt()
    query = ph.pronoun_attention(model, STORIES[:20])
    other = ph.pronoun_attention(model, STORIES[20:40], at="pronoun")
    assert query.num_stories == other.num_stories
    with pytest.raises(ValueError, match=r"^readings must all be of the same stories.*readings\['pronoun'\]"):
        ph.stories_won({"query": query, "pronoun": other}, _heads(query.words, "pronoun"))


def test_stories_won_refuses_readings_of_another_number_of_layers():
    model = gpt()
    query = ph.pronoun_attention(model, STORIES[:8])
    deeper = ph.PronounAttention(
        query.referent.repeat(2, 1, 1),
        query.distractor.repeat(2, 1, 1),
        query.story,
        query.words,
        8,
        "pronoun",
    )
    with pytest.raises(ValueError, match=r"differ in \(layers, heads\)$"):
        ph.stories_won({"query": query, "pronoun": deeper}, _heads(query.words, "pronoun"))


def test_stories_won_of_both_rows_of_the_same_stories_is_still_a_share():
    model = gpt()
    readings = ph.pronoun_readings(model, STORIES[:20])
    heads = _heads(readings["query"].words, "pronoun")
    won = ph.stories_won(readings, heads)
    assert won == ph.stories_won({"pronoun": readings["pronoun"]}, heads)


# --- 3. a Story whose tokens are not its sentences' ---


def test_a_story_whose_tokens_are_not_its_sentences_is_refused_by_name():
    story = STORIES[0]
    with pytest.raises(ValueError, match=r"^tokens must be <bos>, its sentences' tokens, <eos>.*position 1"):
        Story(("<bos>", "<eos>"), story.log_prob, story.sentences)
    swapped = (*story.tokens[:3], "zebra", *story.tokens[4:])
    with pytest.raises(ValueError, match=r"^tokens must be .*position 3: 'zebra' where the sentences have"):
        Story(swapped, story.log_prob, story.sentences)
    wrong_first = r"got 34, the first wrong at position 0: 'one' where the sentences have '<bos>'"
    with pytest.raises(ValueError, match=r"^tokens must be .*" + wrong_first):
        Story(story.tokens[1:], story.log_prob, story.sentences)


def test_stories_the_generator_writes_or_parses_and_tokens_alone_are_taken():
    story = STORIES[0]
    assert Story(story.tokens, story.log_prob, story.sentences) == story
    assert GEN.parse(story.tokens) == story
    assert Story(("<bos>", "lily", "<eos>"), 0.0, ()).links == ()  # no sentences: tokens as they are


# --- 4. special tokens in the wrong place; a pad_id the ids cannot hold ---


@pytest.mark.parametrize(
    ("tokens", "where"),
    [
        (("<bos>", "lily", "<pad>", "sang", ".", "<eos>"), r"tokens\[2\] is <pad>"),
        (("<bos>", "lily", "<bos>", "sang", ".", "<eos>"), r"tokens\[2\] is <bos>"),
        (("<bos>", "lily", "<eos>", "sang", ".", "<eos>"), r"tokens\[2\] is <eos>"),
        (("lily", "<bos>"), r"tokens\[1\] is <bos>"),
        (("<bos>", "lily", "<pad>"), r"tokens\[2\] is <pad>"),
    ],
)
def test_encode_refuses_special_tokens_out_of_place_by_name_and_position(tokens, where):
    stories = [STORIES[0], Story(tokens, 0.0, ())]
    with pytest.raises(ValueError, match=rf"^stories\[1\]\.{where}: a story's tokens hold <bos> only first"):
        encode(stories)


def test_encode_still_takes_stories_and_short_hand_made_ones():
    ids = encode([*STORIES[:3], Story(("<bos>",), 0.0, ()), Story(("<bos>", "<eos>"), 0.0, ())])
    vocab = story_vocab()
    assert ids[0, : len(STORIES[0].tokens)].tolist() == vocab.ids(list(STORIES[0].tokens))
    assert ids[3, :2].tolist() == [vocab.bos_id, vocab.pad_id]
    assert ids[4, :3].tolist() == [vocab.bos_id, vocab.eos_id, vocab.pad_id]


@pytest.mark.parametrize(
    ("dtype", "pad_id", "match"),
    [
        (torch.uint8, 300, r"^pad_id must fit the ids' dtype torch\.uint8 \(at most 255\), got 300"),
        (torch.int8, 200, r"^pad_id must fit the ids' dtype torch\.int8 \(at most 127\), got 200"),
        (torch.uint8, -1, r"^pad_id must be an int >= 0, got -1"),
    ],
)
def test_story_batch_fn_refuses_a_pad_id_the_ids_cannot_hold(dtype, pad_id, match):
    ids = torch.tensor([[2, 44, 5, 3, 0]], dtype=dtype)
    with pytest.raises(ValueError, match=match):
        story_batch_fn(ids, pad_id=pad_id)


def test_story_batch_fn_takes_a_pad_id_that_fits():
    ids = torch.tensor([[2, 44, 5, 3, 255, 255]], dtype=torch.uint8)
    assert story_batch_fn(ids, pad_id=255)(torch.tensor([0])).tolist() == [[2, 44, 5, 3]]
