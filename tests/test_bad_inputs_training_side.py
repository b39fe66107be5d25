"""Bad input to the training side of lib (stories, GPT training, pronoun heads, the training
loop, toy data, the tokenizer, the chapters' small models, from_scratch) gets a ValueError
naming the argument, never an error from inside torch or Python, a hang or a huge allocation.

Each row: a call with one plausible mistake, the argument the message must name, and words
saying what was expected. Before these checks each row failed otherwise: numpy seeds with
"an integer is required" or "The only supported seed types are", a pad_id of 10**30 with an
OverflowError, int32 labels inside cross_entropy, hand-made records (Story, PronounAttention,
PronounHead, SequenceSplit, PronounSplit, AttentionCost) with an AttributeError or a size
mismatch once used, meta tensors inside torch, a billion layers or repeats ran for hours, and
a duplicated row in ``at`` silently doubled the pronouns read.
"""

import numpy as np
import pytest
import torch
from refusals import assert_refused, each_case
from transformer_course import alignment, cost, data, neighbours, pointer, recurrence
from transformer_course import lm_training as lm
from transformer_course import pronoun_heads as ph
from transformer_course import training as tr
from transformer_course.embeddings import similarity_matrix
from transformer_course.from_scratch import (
    PAPER,
    AttentionDesign,
    DecoderBlock,
    SelfAttention,
    Transformer,
    TransformerBlock,
)
from transformer_course.history import History
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import Story, StoryGenerator, encode, split, story_vocab
from transformer_course.tokenizer import course_vocab

GEN = StoryGenerator()
STORIES = GEN.sample(4, seed=0)
IDS = encode(STORIES)
GPT = TransformerConfig(
    vocab_size=len(story_vocab()), d_model=8, num_heads=2, num_decoder_layers=1, d_ff=16,
    dropout=0.0, max_len=64, norm_first=True, positional="learned",
)  # fmt: skip
TASK = data.sequence_task("reverse", num_train=40, num_test=10, max_len=5)
SEQ = TransformerConfig(
    vocab_size=len(TASK.vocab), d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
    d_ff=16, dropout=0.0, max_len=16,
)  # fmt: skip
PTASK = data.pronoun_task(num_train=20, num_test=5)
HUGE = 10**30
NP_SEED = np.int64(3)
META = torch.empty(2, 3, dtype=torch.long, device="meta")


def gpt() -> DecoderOnlyTransformer:
    torch.manual_seed(0)
    return DecoderOnlyTransformer(GPT)


def seq_model():
    from transformer_course.model import Transformer as CourseTransformer

    torch.manual_seed(0)
    return CourseTransformer(SEQ)


def reading(**change) -> ph.PronounAttention:
    seen = ph.pronoun_attention(gpt(), STORIES)
    fields = {k: getattr(seen, k) for k in ("referent", "distractor", "story", "words", "num_stories", "at")}
    return ph.PronounAttention(**{**fields, **change})


def seq_batch():
    return tr.split_batch_fn(TASK.train)(torch.tensor([0, 1]))


def ptr() -> pointer.PronounPointer:
    torch.manual_seed(0)
    return pointer.PronounPointer(SEQ.replace(vocab_size=len(PTASK.vocab)))


CASES = [
    # stories: a hand-made Story, a huge pad id
    ("Story with sentences a str", lambda: Story(STORIES[0].tokens, -1.0, "abc"), "sentences", "Entry"),
    ("Story with tokens None", lambda: Story(None, -1.0, STORIES[0].sentences), "tokens", "tuple"),
    ("Story with log_prob NaN", lambda: Story(("<bos>",), float("nan"), ()), "log_prob", "<= 0"),
    # GPT training
    ("loss, pad_id 10**30", lambda: lm.next_token_loss(gpt(), IDS, pad_id=HUGE), "pad_id", "below 2"),
    ("story_loss_fn, pad_id 10**30", lambda: lm.story_loss_fn(HUGE)(gpt(), IDS), "pad_id", "below 2"),
    ("story_batch_fn, pad_id 10**30", lambda: lm.story_batch_fn(IDS, pad_id=HUGE), "pad_id", "below 2"),
    ("validation, pad_id 10**30", lambda: lm.validation_loss(gpt(), IDS, pad_id=HUGE), "pad_id", "below 2"),
    ("story_batch_fn, no story", lambda: lm.story_batch_fn(IDS[:0]), "ids", "at least one story"),
    ("optimiser, lr 1e300", lambda: lm.gpt_optimiser()(gpt(), 1e300), "lr", "at most"),
    # pronoun heads: hand-made readings and heads
    ("reading, referent 2-D", lambda: reading(referent=IDS.float()), "referent", "3-D"),
    ("reading, story 0-D", lambda: reading(story=torch.tensor(2.0)), "story", "1-D"),
    ("reading, story float", lambda: reading(story=reading().story.float()), "story", "integer"),
    ("reading, story too short", lambda: reading(story=torch.tensor([0])), "story", "one story index"),
    (
        "reading, num_stories 10**12",
        lambda: reading(num_stories=10**12),
        "layers × heads × num_stories",
        "smaller",
    ),
    ("reading, num_stories too few", lambda: reading(num_stories=1), "story", r"\[0, 1\)"),
    ("reading, words None", lambda: reading(words=None), "words", "tuple"),
    ("reading, at a number", lambda: reading(at=3), "at", '"query"'),
    ("head, selection_rate None", lambda: ph.PronounHead(0, 0, None), "selection_rate", "finite number"),
    ("head, at a list", lambda: ph.PronounHead(0, 0, 0.5, ["query"]), "at", '"query"'),
    ("head, layer a str", lambda: ph.PronounHead("0", 0, 0.5), "layer", "an int"),
    # the training loop
    (
        "train, snapshot_steps a 0-D array",
        lambda: tr.train(
            seq_model(),
            tr.seq2seq_loss,
            tr.split_batch_fn(TASK.train),
            40,
            steps=1,
            progress=False,
            snapshot_fn=lambda m: 1,
            snapshot_steps=np.array(1),
        ),
        "snapshot_steps",
        "list of ints",
    ),
    (
        "train, callback a model",
        lambda: tr.train(
            seq_model(),
            tr.seq2seq_loss,
            tr.split_batch_fn(TASK.train),
            40,
            steps=1,
            progress=False,
            callback=seq_model(),
        ),
        "callback",
        "function",
    ),
    (
        "train, callback of nothing",
        lambda: tr.train(
            seq_model(),
            tr.seq2seq_loss,
            tr.split_batch_fn(TASK.train),
            40,
            steps=1,
            progress=False,
            callback=lambda: None,
        ),
        "callback",
        "one argument",
    ),
    (
        "train, lr 10**400",
        lambda: tr.train(
            seq_model(),
            tr.seq2seq_loss,
            tr.split_batch_fn(TASK.train),
            40,
            steps=1,
            lr=10**400,
            progress=False,
        ),
        "lr",
        "at most",
    ),
    (
        "seq2seq_loss, pad_id 10**30",
        lambda: tr.seq2seq_loss(seq_model(), seq_batch(), pad_id=HUGE),
        "pad_id",
        "below 2",
    ),
    (
        "seq2seq_loss, a model returning None",
        lambda: tr.seq2seq_loss(lambda s, t: None, seq_batch()),
        "model",
        "logits",
    ),
    ("seq2seq_loss, tgt a number", lambda: tr.seq2seq_loss(seq_model(), (IDS, 3)), "batch", "Tensor"),
    ("split_batch_fn, empty split", lambda: tr.split_batch_fn(TASK.train[:0]), "split", "at least one row"),
    (
        "smoothed, losses of text",
        lambda: History(steps=[1, 2], losses=["a", "b"]).smoothed(),
        "losses",
        "numbers",
    ),
    (
        "add_eval, a meta value",
        lambda: History().add_eval("x", 1, torch.empty((), device="meta")),
        "value",
        "number",
    ),
    # toy data: hand-made splits, indices
    (
        "SequenceSplit, src None",
        lambda: data.SequenceSplit(None, TASK.train.tgt, TASK.train.lengths),
        "src",
        "Tensor",
    ),
    (
        "SequenceSplit, tgt short",
        lambda: data.SequenceSplit(TASK.train.src, TASK.train.tgt[:3], TASK.train.lengths),
        "tgt",
        "one row per row",
    ),
    (
        "PronounSplit, ids None",
        lambda: data.PronounSplit(None, *[PTASK.train.it_pos] * 3, ()),
        "ids",
        "Tensor",
    ),
    (
        "PronounSplit, it_pos a number",
        lambda: data.PronounSplit(
            PTASK.train.ids, 3, PTASK.train.referent_pos, PTASK.train.distractor_pos, PTASK.train.sentences
        ),
        "it_pos",
        "Tensor",
    ),
    (
        "PronounSplit, referent past the end",
        lambda: data.PronounSplit(
            PTASK.train.ids,
            PTASK.train.it_pos,
            PTASK.train.referent_pos + 100,
            PTASK.train.distractor_pos,
            PTASK.train.sentences,
        ),
        "referent_pos",
        r"\[0, 11\)",
    ),
    (
        "PronounSplit, no sentences",
        lambda: data.PronounSplit(
            PTASK.train.ids, PTASK.train.it_pos, PTASK.train.referent_pos, PTASK.train.distractor_pos, ()
        ),
        "sentences",
        "one text per row",
    ),
    (
        "split[meta index]",
        lambda: TASK.train[torch.empty(2, dtype=torch.long, device="meta")],
        "index",
        "data",
    ),
    ("split[complex index]", lambda: PTASK.train[torch.ones(1, dtype=torch.complex64)], "index", "as int64"),
    ("split[uint8 index]", lambda: TASK.train[torch.ones(2, 3, dtype=torch.uint8)], "index", "an int"),
    ("Vocab.tokens of a 0-D array", lambda: course_vocab().tokens(np.array(3)), "ids", "list of int ids"),
    ("Vocab.tokens of a dict", lambda: course_vocab().tokens({1: 2}), "ids", "list of int ids"),
    (
        "similarity_matrix, kind an array",
        lambda: similarity_matrix(torch.randn(3, 2), np.array(["dot"])),
        "kind",
        "'cosine' or 'dot'",
    ),
    # chapter 05's neighbour task, chapter 06's pointer
    (
        "neighbour_rows, num_symbols 10**30",
        lambda: neighbours.neighbour_rows(2, num_symbols=HUGE),
        "num_symbols",
        "at most",
    ),
    ("neighbour_targets of meta ids", lambda: neighbours.neighbour_targets(META), "ids", "data"),
    (
        "NeighbourReader, num_symbols 10**12",
        lambda: neighbours.NeighbourReader(num_symbols=10**12),
        "num_symbols",
        "smaller",
    ),
    (
        "NeighbourReader, max_len 10**12",
        lambda: neighbours.NeighbourReader(max_len=10**12),
        "max_len",
        "smaller",
    ),
    (
        "neighbour_loss, a model returning None",
        lambda: neighbours.neighbour_loss(lambda ids: None, neighbours.neighbour_rows(2)),
        "model",
        "logits",
    ),
    (
        "head_jobs of meta weights",
        lambda: neighbours.head_jobs(torch.empty(1, 3, 8, 8, device="meta")),
        "weights",
        "data",
    ),
    (
        "pointer_loss, a model returning None",
        lambda: pointer.pointer_loss(lambda ids, pos: None, PTASK.train),
        "model",
        "pointer weights",
    ),
    (
        "pointer_loss, no sentence",
        lambda: pointer.pointer_loss(ptr(), PTASK.train[:0]),
        "batch",
        "at least one",
    ),
    (
        "predicate_share, one sentence",
        lambda: pointer.predicate_share(ptr(), PTASK.train[0]),
        "split",
        "(N, L)",
    ),
    (
        "snapshot, a lambda model",
        lambda: pointer.snapshot(lambda *a: None, PTASK.train[:2], PTASK.test),
        "model",
        "PronounPointer",
    ),
    (
        "resolve, it_pos 10**30",
        lambda: pointer.resolve(ptr(), PTASK.train.ids[0], HUGE),
        "it_pos",
        "an int in",
    ),
    # chapter 00's gradients, chapter 08's alignment, chapter 05's cost
    (
        "attention_gradients, d_model 10**12",
        lambda: recurrence.attention_gradients(5, d_model=10**12),
        "d_model",
        "smaller",
    ),
    (
        "source_position, i a float tensor",
        lambda: alignment.source_position("reverse", torch.ones(2), 3),
        "i",
        "integer",
    ),
    (
        "source_position, i and length apart",
        lambda: alignment.source_position(
            "reverse", torch.zeros(2, dtype=torch.long), torch.ones(3, dtype=torch.long)
        ),
        "i",
        "broadcast",
    ),
    (
        "source_position, length 10**30",
        lambda: alignment.source_position("reverse", torch.tensor([1]), HUGE),
        "length",
        "position",
    ),
    (
        "share_on_source, meta lengths",
        lambda: alignment.share_on_source(
            torch.rand(2, 1, 4, 4), torch.empty(2, dtype=torch.long, device="meta")
        ),
        "lengths",
        "data",
    ),
    ("cost, repeats 10**12", lambda: cost.measure_attention_cost((4,), repeats=10**12), "repeats", "at most"),
    ("cost, d_head 10**12", lambda: cost.measure_attention_cost((4,), d_head=10**12), "d_head", "smaller"),
    (
        "cost, threads 10**12",
        lambda: cost.measure_attention_cost((4,), threads=10**12),
        "threads",
        "an int in",
    ),
    ("cost, lengths a 0-D array", lambda: cost.measure_attention_cost(np.array(4)), "lengths", "list"),
    (
        "cost, memory an array",
        lambda: cost.measure_attention_cost((4,), memory=np.array(["auto", "x"])),
        "memory",
        "one of",
    ),
    (
        "AttentionCost, num_heads None",
        lambda: cost.AttentionCost([4], [1.0], [1.0], [1], [1], None, 2, 1, "cpu"),
        "num_heads",
        "positive int",
    ),
    (
        "AttentionCost, memory a list",
        lambda: cost.AttentionCost([4], [1.0], [1.0], [1], [1], 1, 2, 1, "cpu", []),
        "memory",
        "one of",
    ),
    (
        "growth_exponent of a 0-D array",
        lambda: cost.growth_exponent(np.array(4), [1.0, 2.0]),
        "lengths",
        "list",
    ),
    # from_scratch
    (
        "AttentionDesign, scale an array",
        lambda: AttentionDesign(scale=np.array(["a", "b"])),
        "scale",
        "one of",
    ),
    ("SelfAttention, embed_size 10**12", lambda: SelfAttention(10**12, 1), "embed_size", "smaller"),
    (
        "TransformerBlock, forward_expansion 10**12",
        lambda: TransformerBlock(8, 2, 0.0, 10**12),
        "forward_expansion",
        "smaller",
    ),
    ("DecoderBlock, embed_size None", lambda: DecoderBlock(None, 2, 2, 0.0), "embed_size", "positive int"),
    ("DecoderBlock, embed_size 10**12", lambda: DecoderBlock(10**12, 1, 1, 0.0), "embed_size", "smaller"),
    (
        "TransformerBlock, value None",
        lambda: TransformerBlock(8, 2, 0.0, 2)(None, torch.randn(1, 2, 8), torch.randn(1, 2, 8)),
        "value",
        "Tensor",
    ),
    (
        "DecoderBlock, x 2-D",
        lambda: DecoderBlock(8, 2, 2, 0.0)(torch.randn(2, 8), *[torch.randn(1, 2, 8)] * 2, None, None),
        "x",
        "3-D",
    ),
    (
        "Transformer, src_vocab_size None",
        lambda: Transformer(None, 10, 0, 0, embed_size=8, num_layers=1, heads=2),
        "src_vocab_size",
        "positive int",
    ),
    (
        "Transformer, trg_vocab_size 10**12",
        lambda: Transformer(10, 10**12, 0, 0, embed_size=8, num_layers=1, heads=2),
        "trg_vocab_size",
        "smaller",
    ),
    (
        "Transformer, num_layers 10**12",
        lambda: Transformer(10, 10, 0, 0, embed_size=8, num_layers=10**12, heads=2),
        "num_layers",
        "an int in",
    ),
    (
        "Decoder, enc_out float64",
        lambda: Transformer(10, 10, 0, 0, embed_size=8, num_layers=1, heads=2).decoder(
            torch.tensor([[1, 2]]), torch.randn(1, 2, 8, dtype=torch.float64), None, None
        ),
        "enc_out",
        "dtype",
    ),
    (
        "load_embeddings of a meta table",
        lambda: Transformer(10, 10, 0, 0, embed_size=8, num_layers=1, heads=2).encoder.load_embeddings(
            torch.empty(10, 8, device="meta"), torch.randn(100, 8)
        ),
        "words",
        "data",
    ),
]


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


def test_numpy_seeds_work_and_give_the_int_seeds_results():
    """A numpy int is an int: each seed below failed inside random or torch before."""
    assert GEN.sample(2, seed=NP_SEED) == GEN.sample(2, seed=3)
    assert split(GEN, 3, 2, seed=NP_SEED) == split(GEN, 3, 2, seed=3)
    assert torch.equal(next(data.batches(10, 3, seed=NP_SEED)), next(data.batches(10, 3, seed=3)))
    assert torch.equal(neighbours.neighbour_rows(2, seed=NP_SEED), neighbours.neighbour_rows(2, seed=3))
    assert torch.equal(
        recurrence.rnn_gradients(4, d_model=3, seed=NP_SEED), recurrence.rnn_gradients(4, d_model=3, seed=3)
    )
    assert torch.equal(
        recurrence.attention_gradients(4, d_model=4, seed=NP_SEED),
        recurrence.attention_gradients(4, d_model=4, seed=3),
    )
    assert lm.sample_stories(gpt(), 2, seed=NP_SEED) == lm.sample_stories(gpt(), 2, seed=3)
    runs = [
        tr.train(
            seq_model(), tr.seq2seq_loss, tr.split_batch_fn(TASK.train), 40, steps=2, seed=s, progress=False
        )
        for s in (NP_SEED, 3)
    ]
    assert runs[0].losses == runs[1].losses
    costs = cost.measure_attention_cost((4,), repeats=1, seed=NP_SEED, memory="tensors", device="cpu")
    assert costs.lengths == [4]


def test_int32_ids_give_the_int64_ids_loss():
    """The models read int32 ids; their labels failed inside cross_entropy ("expected Long")."""
    assert lm.next_token_loss(gpt(), IDS.int()).item() == lm.next_token_loss(gpt(), IDS).item()
    assert lm.validation_loss(gpt(), IDS.int()) == lm.validation_loss(gpt(), IDS)
    src, tgt = seq_batch()
    assert (
        tr.seq2seq_loss(seq_model(), (src, tgt.int())).item()
        == tr.seq2seq_loss(seq_model(), (src, tgt)).item()
    )


def test_a_row_asked_twice_is_read_once():
    """("query", "query") read every pronoun twice into one reading: twice the pronouns, silently."""
    once = ph.pronoun_readings(gpt(), STORIES, at="query")["query"]
    twice = ph.pronoun_readings(gpt(), STORIES, at=("query", "query"))["query"]
    assert twice.referent.shape == once.referent.shape and torch.equal(twice.referent, once.referent)


def test_what_is_right_is_still_taken():
    """The new checks refuse only what is wrong: one row of a split, numpy sizes, int positions,
    1-D tensors of lengths, the documented defaults, the records the lib makes itself."""
    one = PTASK.train[1]
    assert one.ids.dim() == 1 and len(one.sentences) == 1
    assert (
        TASK.train[torch.tensor(0)].src.dim() == 1
        and len(TASK.train[torch.tensor([0, 2], dtype=torch.int32)]) == 2
    )
    assert len(PTASK.train[:0]) == 0
    assert alignment.source_position("reverse", 2, 5) == 2
    assert torch.equal(alignment.source_position("copy", torch.arange(3), 3), torch.arange(3))
    assert cost.measure_attention_cost(
        torch.tensor([4]), repeats=1, memory="tensors", device="cpu"
    ).lengths == [4]
    assert cost.AttentionCost([4], [1.0], [1.0], [1], [1], np.int64(1), 2, 1, "cpu").weights_bytes(2) == 16
    assert History(steps=[1, 2], losses=[np.float64(1.0), float("nan")]).smoothed(1)[0] == 1.0
    history = History()
    history.add_eval("held-out", 1, torch.tensor(0.5))
    assert history.evals["held-out"] == [(1, 0.5)]
    assert recurrence.tiny_rnn(3, scale=np.float64(0.5)).hidden_size == 3
    assert recurrence.tiny_rnn(3, scale=HUGE).hidden_size == 3  # OverflowError before: 10**30 × a tensor
    assert len(course_vocab().tokens(np.array([1, 2]))) == 2
    head = ph.PronounHead(np.int64(0), 0, 1, "pronoun")
    assert head.at == "pronoun"
    assert Story(("<bos>", "<eos>"), -float("inf"), ()).links == ()
    design = AttentionDesign(scale="head_dim")
    assert SelfAttention(8, 2, design=design).divisor == 2.0 and PAPER.scale == "head_dim"


def test_errors_inside_a_block_name_the_blocks_arguments():
    """The decoder's self-attention reads x; its cross-attention, enc_out (not "keys" or "query")."""
    block = DecoderBlock(8, 2, 2, 0.0)
    with pytest.raises(ValueError, match=r"^trg_mask must be a bool tensor"):
        block(torch.randn(1, 2, 8), *[torch.randn(1, 2, 8)] * 2, None, torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"^src_mask must be a bool tensor"):
        block(torch.randn(1, 2, 8), *[torch.randn(1, 2, 8)] * 2, torch.ones(2, 2), None)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.bool, torch.float32])
def test_a_split_index_of_another_dtype_says_the_dtype_is_the_problem(dtype):
    """A uint8 or bool tensor would pick rows as a mask: refused as a dtype, not as "an int"."""
    with pytest.raises(ValueError, match=rf"^index must hold row numbers as int64 .*got dtype {dtype}"):
        PTASK.train[torch.ones(2, dtype=dtype)]


def test_numpy_sizes_in_from_scratch_are_kept_as_python_ints():
    """A numpy size was checked, then used as it came: 2 · (2**62 + 100) · 256 wrapped round in
    int64 (a warning only), passed the memory check, and failed inside torch naming nothing."""
    from transformer_course.from_scratch.model import Transformer as Scratch
    from transformer_course.neighbours import NeighbourReader

    sizes = dict(embed_size=np.int64(16), heads=np.int64(2), max_length=10)
    small = Scratch(np.int64(20), np.int64(20), 0, 0, **sizes)
    assert type(small.encoder.word_embedding.num_embeddings) is int
    assert type(NeighbourReader(np.int64(6), np.int64(24), 3, np.int64(16)).embed.num_embeddings) is int
    with pytest.raises(ValueError, match=r"^\(src_vocab_size \+ max_length\) × embed_size must be smaller"):
        Scratch(np.int64(2**62), 20, 0, 0)
