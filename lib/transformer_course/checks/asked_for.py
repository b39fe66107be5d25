"""For each exercise whose answer PyTorch or lib already has: which functions do its work, and
how the learner writes it instead (``built_ins.note_built_ins`` words the verdict)."""

from __future__ import annotations

from .. import attention, embeddings, generation, layers, masks, positional, sampling, softmax, training
from .built_ins import BuiltIns

COSINE_SIMILARITY = BuiltIns(  # chapter 01: "Do not use similarity_matrix or F.cosine_similarity"
    torch={"cosine_similarity": "F.cosine_similarity"},
    lib=(embeddings.similarity_matrix,),
    instead="make each row length 1, then one matrix product gives every pair.",
)
SOFTMAX = BuiltIns(  # chapter 04: "Use exp, sum and max, not torch.softmax"
    torch={
        "softmax": "torch.softmax",
        "log_softmax": "torch.log_softmax",
        "special_softmax": "torch.special.softmax",
        "_softmax": "torch._softmax",
        "softmin": "F.softmin",  # of -scores
    },
    lib=(softmax.stable_softmax, softmax.naive_softmax),
    instead="subtract each row's max, exponentiate, and divide by the row's sum, with exp, max "
    "and sum (keepdim=True).",
)
MULTI_HEAD = BuiltIns(  # chapter 05: split, attend per head, merge, project
    torch={"multi_head_attention_forward": "PyTorch's nn.MultiheadAttention"},
    lib=(attention.MultiHeadAttention,),
    instead="project with w_q, w_k and w_v, split the columns into heads, attend in each head, "
    "merge the heads and project with w_o.",
)
MASKED_WEIGHTS = BuiltIns(  # chapter 06: "Build the mask yourself (no masks.py or attention.py!)"
    torch={},
    lib=(masks, attention),
    instead="build the causal mask with torch.tril and the padding mask from ids != pad_id, "
    "fill the scores where either forbids with -inf, then softmax.",
)
LAYER_NORM = BuiltIns(  # chapter 07: "Write the LayerNorm itself"
    torch={
        "layer_norm": "F.layer_norm",
        "native_layer_norm": "torch.native_layer_norm",
        "group_norm": "F.group_norm",
    },
    instead="each row's mean and variance (divided by d), (x - mean) / sqrt(var + eps), then "
    "* weight + bias.",
)

# Round 50: the other exercises whose answer lib (or PyTorch) already computes.
SINUSOIDAL = BuiltIns(  # chapter 02: "write it from the formula" (the chapter imports lib's)
    torch={},
    lib=(positional.sinusoidal_encoding, positional.SinusoidalPositionalEncoding),
    instead="pos (L, 1) / 10000 ** (2i / d_model) for 2i = 0, 2, 4, …; its sin into the even "
    "columns, its cos into the odd ones.",
)
ATTENTION_SCORES = BuiltIns(  # chapter 03: "Use torch operations on q and k"
    torch={},
    lib=(attention.attention_scores,),
    instead="q @ k.transpose(-2, -1), which swaps only the last two dimensions.",
)
ATTENTION = BuiltIns(  # chapter 04b: "You may use torch.softmax (or your my_softmax)", no more
    torch={"scaled_dot_product_attention": "F.scaled_dot_product_attention"},
    lib=(attention.scaled_dot_product_attention, attention.SingleHeadAttention),
    instead="q, k, v = x @ w_q, x @ w_k, x @ w_v; the weights are torch.softmax(q @ k.T / "
    "sqrt(d_k), dim=-1), the output weights @ v.",
)
FEED_FORWARD = BuiltIns(  # chapter 07a: in the maths convention, from the weights handed over
    torch={},
    lib=(layers.FeedForward,),
    instead="torch.relu(x @ w_1 + b_1) @ w_2 + b_2.",
)
ADD_NORM = BuiltIns(  # chapter 07b: "the forward pass of the lib's AddNorm, from its parts"
    torch={},
    lib=(layers.AddNorm,),
    instead="post-norm: block.norm(x + block.dropout(sublayer(x))); pre-norm (block.norm_first): "
    "x + block.dropout(sublayer(block.norm(x))).",
)
ENCODER_LAYER = BuiltIns(  # chapter 07c: "from the parts of the lib's EncoderLayer"
    torch={},
    lib=(layers.EncoderLayer,),
    instead="h = layer.norm1(x + layer.self_attn(x, mask=mask)[0]), then "
    "layer.norm2(h + layer.feed_forward(h)).",
)
DECODER_LAYER = BuiltIns(  # chapter 07: "using the parts of the lib's DecoderLayer"
    torch={},
    lib=(layers.DecoderLayer,),
    instead="three residual steps, each followed by its LayerNorm: self-attention with the causal "
    "mask (norm1), cross-attention to memory (norm2), the feed-forward network (norm3).",
)
TEACHER_FORCING_LOSS = BuiltIns(  # chapter 08a: the chapter imports lib's seq2seq_loss
    torch={},
    lib=(training.seq2seq_loss,),
    instead="logits = model(src, trg[:, :-1]), then F.cross_entropy(logits.reshape(-1, V), "
    "trg[:, 1:].reshape(-1), ignore_index=pad_id).",
)
GREEDY_DECODE = BuiltIns(  # chapter 08: the chapter imports lib's greedy_decode and generate
    torch={},
    lib=(generation.greedy_decode, generation.generate),
    instead="a loop: logits_fn(ids[None])[0, -1].argmax(), appended with torch.cat, stopping "
    "after eos_id or max_new_tokens new tokens.",
)
SAMPLE_NEXT_TOKEN = BuiltIns(  # chapter 08d: divide, keep the top k, softmax, draw
    torch={},
    lib=(sampling.next_token_probs, sampling.choose),
    instead="logits / temperature; torch.topk's k-th value per row, the logits below it set to "
    "-inf; torch.softmax, then torch.multinomial(probs, 1).",
)
KEEP_TOP_P = BuiltIns(  # chapter 09b: the chapter imports lib's keep_top_p
    torch={},
    lib=(sampling.keep_top_p,),
    instead="torch.sort each row (descending), keep a token while the cumsum before it is below "
    "top_p, scatter the kept probabilities back to their ids and divide by each row's sum.",
)
