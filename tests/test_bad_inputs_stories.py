"""Bad input to chapter 09's lib (stories, GPT training, pronoun heads) gets a ValueError
naming the argument, never an AttributeError, a NaN loss, a hang or a silent ``None``.

Each row: a call with one plausible mistake, the argument the message must name, and
words saying what was expected. Before these checks: ``encode("text")`` failed with
"'str' object has no attribute 'tokens'", a batch of padding gave a NaN loss, an empty
set a ZeroDivisionError, ``find_pronoun_head(at=[])`` returned None, and a billion
stories ran until the kernel ran out of memory.
"""

import torch
from refusals import assert_refused, each_case
from transformer_course import lm_training as lm
from transformer_course import pronoun_heads
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import StoryGenerator, encode, split, story_vocab

GEN = StoryGenerator()
VOCAB = story_vocab()
STORIES = GEN.sample(6, seed=0)
IDS = encode(STORIES)  # (6, T)
PADDING = torch.zeros(2, 5, dtype=torch.long)  # every label is <pad>
CONFIG = TransformerConfig(
    vocab_size=len(VOCAB),
    d_model=8,
    num_heads=2,
    num_decoder_layers=1,
    d_ff=16,
    dropout=0.0,
    max_len=64,
    norm_first=True,
    positional="learned",
)


def model() -> DecoderOnlyTransformer:
    torch.manual_seed(0)
    return DecoderOnlyTransformer(CONFIG)


CASES = [
    # the generator
    ("a billion stories", lambda: GEN.sample(10**9), "num_stories", "at most 1,000,000"),
    ("seed a float", lambda: GEN.sample(2, seed=1.5), "seed", "an int"),
    ("split: too many held out", lambda: split(GEN, 10, 10**7), "num_test", "at most"),
    ("split: seed None", lambda: split(GEN, 10, 10, seed=None), "seed", "an int"),
    ("encode a string", lambda: encode("squatch met lily"), "stories", "list of Story"),
    ("encode token lists", lambda: encode([["<bos>", "tom"]]), "stories", "list of Story"),
    # training
    ("loss of None", lambda: lm.next_token_loss(None, IDS), "model", "nn.Module"),
    ("loss, negative pad id", lambda: lm.next_token_loss(model(), IDS, pad_id=-1), "pad_id", ">= 0"),
    ("loss of padding only", lambda: lm.next_token_loss(model(), PADDING), "ids", "no token to predict"),
    ("batch_fn float indices", lambda: lm.story_batch_fn(IDS)(torch.tensor([0.5])), "indices", "integer"),
    ("batch_fn index too big", lambda: lm.story_batch_fn(IDS)(torch.tensor([6])), "indices", r"\[0, 6\)"),
    ("batch_fn no index", lambda: lm.story_batch_fn(IDS)(IDS[:0, 0]), "indices", "one"),
    ("validation of no story", lambda: lm.validation_loss(model(), IDS[:0]), "ids", "no token to predict"),
    ("validation of a lambda", lambda: lm.validation_loss(lambda x: x, IDS), "model", "nn.Module"),
    ("floor_on None", lambda: lm.floor_on(None), "stories", "list of Story"),
    ("acceptance of None", lambda: lm.acceptance(GEN, None), "stories", "list of token lists"),
    # pronoun heads
    ("no row to read", lambda: pronoun_heads.find_pronoun_head(model(), STORIES, at=[]), "at", "non-empty"),
    ("rows not a list", lambda: pronoun_heads.find_pronoun_heads(model(), STORIES, at=3), "at", '"query"'),
    (
        "layer out of range",
        lambda: pronoun_heads.pronoun_attention(model(), STORIES).rate_by_word(1, 0),
        "layer",
        r"\[0, 1\)",
    ),
    (
        "head out of range",
        lambda: pronoun_heads.pronoun_attention(model(), STORIES).rate_by_word(0, -1),
        "head",
        r"\[0, 2\)",
    ),
]


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


def test_good_input_still_works_at_the_edges():
    """What the checks must not refuse: seed 0, one story, every row."""
    assert len(GEN.sample(1, seed=0)) == 1
    assert lm.next_token_loss(model(), IDS[:1]).isfinite()
    assert lm.story_batch_fn(IDS)(torch.tensor([5, 0])).shape[0] == 2
    head = pronoun_heads.find_pronoun_head(model(), STORIES, at=("query", "pronoun"))
    assert head.at in ("query", "pronoun")
    words = pronoun_heads.pronoun_attention(model(), STORIES).rate_by_word(0, 1)
    assert set(words) <= {"he", "she", "they", "it"}
