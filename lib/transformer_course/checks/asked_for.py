"""For each exercise whose answer PyTorch or lib already has: which functions do its work, and
how the learner writes it instead (``built_ins.note_built_ins`` words the verdict)."""

from __future__ import annotations

from .. import attention, embeddings, masks, softmax
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
