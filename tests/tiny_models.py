"""The smallest whole model the fuzz rounds build (compile, autocast, state dicts): one encoder
layer, two decoder layers, d_model 8 in two heads, no dropout."""

from transformer_course.model import TransformerConfig

TINY = TransformerConfig(
    vocab_size=11,
    d_model=8,
    num_heads=2,
    num_encoder_layers=1,
    num_decoder_layers=2,
    d_ff=16,
    max_len=12,
    dropout=0.0,
)
