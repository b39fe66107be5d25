"""lib's whole models: equal to nn.Transformer with copied weights, parameter count, masks, errors."""

import dataclasses

import pytest
import torch
from torch import nn
from transformer_course.masks import causal_mask, to_blocked
from transformer_course.model import (
    ATTENTION_KINDS,
    DecoderOnlyTransformer,
    EncoderOnlyTransformer,
    Transformer,
    TransformerConfig,
    count_parameters,
)

ATOL = 1e-5
PAD = 0
# nn.Transformer with norm_first warns that it cannot use its nested-tensor fast path.
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
SMALL = TransformerConfig(
    vocab_size=20,
    d_model=16,
    num_heads=4,
    num_encoder_layers=2,
    num_decoder_layers=3,
    d_ff=32,
    dropout=0.0,
    max_len=32,
)


def _ids(b, length, pads, vocab=20):
    ids = torch.randint(1, vocab, (b, length))
    for i, n in enumerate(pads):
        if n:
            ids[i, -n:] = PAD
    return ids


def _reference(model: Transformer) -> nn.Module:
    """nn.Transformer with the weights of ``model`` copied in, plus lib's own embeddings and output."""
    c = model.config
    core = nn.Transformer(
        c.d_model,
        c.num_heads,
        c.num_encoder_layers,
        c.num_decoder_layers,
        c.d_ff,
        dropout=0.0,
        activation=c.activation,
        batch_first=True,
        norm_first=c.norm_first,
    ).eval()
    model.load_from_torch(core)  # model now holds core's layer weights

    def forward(src, trg_in):
        lt = trg_in.shape[1]
        h = core(
            model.src_embed(src),
            model.trg_embed(trg_in),
            tgt_mask=to_blocked(causal_mask(lt)),
            src_key_padding_mask=src == PAD,
            tgt_key_padding_mask=trg_in == PAD,
            memory_key_padding_mask=src == PAD,
        )
        return model.output(h)

    return forward


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_matches_nn_transformer(norm_first, activation):
    model = Transformer(SMALL.replace(norm_first=norm_first, activation=activation)).eval()
    ref = _reference(model)
    src, trg = _ids(3, 7, [0, 2, 4]), _ids(3, 6, [1, 0, 3])
    trg_in = trg[:, :-1]
    logits = model(src, trg_in)
    assert logits.shape == (3, 5, 20)
    torch.testing.assert_close(logits, ref(src, trg_in), atol=ATOL, rtol=0)
    # Keeping the weights for figures changes nothing.
    torch.testing.assert_close(model(src, trg_in, need_weights=True), logits, atol=ATOL, rtol=0)


def test_attention_weights_per_layer_and_kind():
    model = Transformer(SMALL).eval()
    src, trg_in = _ids(2, 7, [0, 3]), _ids(2, 5, [0, 1])
    model(src, trg_in, need_weights=True)
    weights = model.attention_weights()
    assert tuple(weights) == ATTENTION_KINDS
    assert [w.shape for w in weights["encoder_self"]] == [(2, 4, 7, 7)] * 2
    assert [w.shape for w in weights["decoder_self"]] == [(2, 4, 5, 5)] * 3
    assert [w.shape for w in weights["cross"]] == [(2, 4, 5, 7)] * 3
    for w in weights["cross"]:  # no weight on the padded source tokens of sentence 1
        assert w[1, :, :, -3:].abs().sum() == 0
    for w in weights["decoder_self"]:
        assert w.triu(1).abs().sum() == 0
    model(src, trg_in)
    assert all(w is None for ws in model.attention_weights().values() for w in ws)


def test_encode_then_decode_equals_forward():
    model = Transformer(SMALL).eval()
    src, trg_in = _ids(2, 7, [0, 3]), _ids(2, 5, [0, 1])
    memory = model.encode(src)
    assert memory.shape == (2, 7, 16)
    torch.testing.assert_close(model.decode(trg_in, memory, src), model(src, trg_in), atol=ATOL, rtol=0)


def test_future_target_tokens_do_not_change_earlier_logits():
    model = Transformer(SMALL).eval()
    src, trg_in = _ids(1, 6, [0]), _ids(1, 5, [0])
    changed = trg_in.clone()
    changed[0, 3:] = (changed[0, 3:] % 19) + 1
    a, b = model(src, trg_in), model(src, changed)
    torch.testing.assert_close(a[:, :3], b[:, :3], atol=ATOL, rtol=0)
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_padding_does_not_change_real_tokens():
    model = Transformer(SMALL).eval()
    src, trg_in = _ids(1, 5, [0]), _ids(1, 4, [0])
    padded_src = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(padded_src, trg_in), model(src, trg_in), atol=ATOL, rtol=0)


def test_base_configuration_has_about_65m_parameters():
    # The paper (Table 3) reports 65M for the base model. With the defaults here (a shared
    # 37,000-token vocabulary, one matrix tied between both embeddings and the output
    # projection, no output bias) the count is 63.1M:
    #   embeddings 37,000 × 512                                 = 18.94M (counted once)
    #   encoder layer: attention 4·(512²+512) + FFN 2·512·2048 + 2048 + 512 + 2 norms = 3.15M, × 6 = 18.91M
    #   decoder layer: two attentions + FFN + 3 norms           = 4.20M, × 6 = 25.22M
    #   two final norms                                         = 2,048
    # The paper's 65M likely counts a somewhat different vocabulary size; the layers
    # alone (44.1M) match any count of the base model exactly.
    model = Transformer(TransformerConfig())
    n = count_parameters(model)
    assert 63_000_000 <= n <= 66_000_000, n
    assert n == 63_084_544
    assert model.output.weight is model.src_embed.token.weight is model.trg_embed.token.weight
    untied = count_parameters(Transformer(TransformerConfig(tie_embeddings=False)))
    assert untied == n + 37_000 * 512 * 2 + 37_000  # two more matrices and the output bias


def test_config_is_frozen_with_paper_defaults():
    c = TransformerConfig()
    assert (
        c.d_model,
        c.num_heads,
        c.num_encoder_layers,
        c.num_decoder_layers,
        c.d_ff,
        c.dropout,
        c.vocab_size,
        c.tie_embeddings,
    ) == (512, 8, 6, 6, 2048, 0.1, 37000, True)
    assert c.d_head == 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.d_model = 256
    assert c.replace(d_model=256, num_heads=4).d_model == 256


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"d_model": 10, "num_heads": 4}, "d_model"),
        ({"num_heads": 0}, "num_heads"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"num_encoder_layers": -1}, "num_encoder_layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"pad_id": 20}, "pad_id"),
        ({"activation": "tanh"}, "activation"),
        ({"positional": "rotary"}, "positional"),
        ({"trg_vocab_size": 0}, "trg_vocab_size"),
    ],
)
def test_bad_config_raises(changes, match):
    with pytest.raises(ValueError, match=match):
        SMALL.replace(**changes)


def test_bad_inputs_raise_value_error_naming_the_argument():
    model = Transformer(SMALL)
    src, trg_in = _ids(2, 5, [0, 0]), _ids(2, 4, [0, 0])
    with pytest.raises(ValueError, match="src"):
        model(src.float(), trg_in)
    with pytest.raises(ValueError, match="src"):
        model(src[0], trg_in)
    with pytest.raises(ValueError, match="trg_in"):
        model(src, trg_in + 100)
    with pytest.raises(ValueError, match="trg_in"):
        model(src, trg_in[:1])
    with pytest.raises(ValueError, match="src"):
        model(torch.ones(2, 40, dtype=torch.long), trg_in)
    with pytest.raises(ValueError, match="memory"):
        model.decode(trg_in, torch.randn(2, 3, 16), src)
    with pytest.raises(ValueError, match="config"):
        Transformer({"d_model": 16})
    with pytest.raises(ValueError, match="transformer"):
        model.load_from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"transformer\.encoder must have 2 layers, got 3"):
        model.load_from_torch(nn.Transformer(16, 4, 3, 3, 32, batch_first=True))
    torch_twin = nn.Transformer(16, 4, 2, 2, 32, dropout=0.0, batch_first=True)
    with pytest.raises(ValueError, match=r"transformer\.encoder has a final norm; set config\.final_norm"):
        Transformer(SMALL.replace(final_norm=False)).load_from_torch(torch_twin)
    with pytest.raises(ValueError, match=r"stack must be an nn\.TransformerEncoder"):
        model.encoder.load_from_torch(torch_twin.decoder)
    with pytest.raises(ValueError, match="ids"):
        DecoderOnlyTransformer(SMALL)(torch.randn(2, 3))
    with pytest.raises(ValueError, match="model"):
        count_parameters("model")


def test_separate_target_vocabulary():
    model = Transformer(SMALL.replace(trg_vocab_size=11)).eval()
    logits = model(_ids(2, 5, [0, 1]), _ids(2, 4, [0, 0], vocab=11))
    assert logits.shape == (2, 4, 11)
    assert model.output.weight is model.trg_embed.token.weight
    assert model.src_embed.token is not model.trg_embed.token


def test_decoder_only_is_causal_and_matches_encoder_layers_with_causal_mask():
    model = DecoderOnlyTransformer(SMALL).eval()
    ids = _ids(2, 6, [0, 2])
    logits = model(ids, need_weights=True)
    assert logits.shape == (2, 6, 20)
    weights = model.attention_weights()["decoder_self"]
    assert len(weights) == SMALL.num_decoder_layers
    assert all(w.shape == (2, 4, 6, 6) and w.triu(1).abs().sum() == 0 for w in weights)
    changed = ids.clone()
    changed[0, 4:] = 7
    torch.testing.assert_close(model(changed)[0, :4], logits[0, :4], atol=ATOL, rtol=0)
    # The same block as nn.TransformerEncoderLayer with a causal mask (GPT = encoder layers + causal mask).
    c = SMALL
    core = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(c.d_model, c.num_heads, c.d_ff, 0.0, batch_first=True),
        c.num_decoder_layers,
        norm=nn.LayerNorm(c.d_model),
        enable_nested_tensor=False,
    ).eval()
    for mine, ref in zip(model.blocks.layers, core.layers):
        mine.load_from_torch(ref)
    model.blocks.norm.load_state_dict(core.norm.state_dict())
    expected = model.output(
        core(model.embed(ids), mask=to_blocked(causal_mask(6)), src_key_padding_mask=ids == PAD)
    )
    torch.testing.assert_close(model(ids), expected, atol=ATOL, rtol=0)


def test_encoder_only_sees_both_ways():
    model = EncoderOnlyTransformer(SMALL.replace(positional="learned", activation="gelu")).eval()
    ids = _ids(2, 6, [0, 2])
    assert model.encode(ids).shape == (2, 6, 16)
    logits = model(ids, need_weights=True)
    assert logits.shape == (2, 6, 20)
    weights = model.attention_weights()["encoder_self"]
    assert len(weights) == SMALL.num_encoder_layers
    assert weights[0][0].triu(1).abs().sum() > 0  # earlier tokens look at later ones too
    changed = ids.clone()
    changed[0, 5] = 3 if ids[0, 5] != 3 else 4
    assert not torch.allclose(model(changed)[0, 0], logits[0, 0])


def test_training_mode_step_reduces_loss():
    torch.manual_seed(0)
    model = Transformer(SMALL.replace(dropout=0.1))
    src = torch.randint(1, 20, (8, 6))
    trg = src.clone()  # copy task, one fixed batch: the model only has to memorise it
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        logits = model(src, trg[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 20), trg[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    model = Transformer(SMALL).cuda().eval()
    src, trg_in = _ids(2, 5, [0, 1]).cuda(), _ids(2, 4, [0, 0]).cuda()
    logits = model(src, trg_in, need_weights=True)
    assert logits.device.type == "cuda"
    cpu = model.cpu()(src.cpu(), trg_in.cpu())
    torch.testing.assert_close(logits.cpu(), cpu, atol=1e-4, rtol=0)


def test_shape_trace_reads_the_real_shapes():
    from transformer_course.model import shape_trace

    model = Transformer(SMALL).eval()
    rows = shape_trace(model, _ids(2, 7, [0, 3]), _ids(2, 5, [0, 1]))
    shapes = {stage: shape for stage, shape, _ in rows}
    assert shapes["src ids"] == (2, 7) and shapes["memory = encoder output"] == (2, 7, 16)
    assert shapes["cross-attention weights"] == (2, 4, 5, 7)
    assert shapes["logits = output projection"] == (2, 5, 20)
    with pytest.raises(ValueError, match="model"):
        shape_trace(DecoderOnlyTransformer(SMALL), _ids(2, 7, [0, 0]), _ids(2, 5, [0, 0]))
    with pytest.raises(ValueError, match="trg_in"):
        shape_trace(model, _ids(2, 7, [0, 0]), _ids(3, 5, [0, 0, 0]))
