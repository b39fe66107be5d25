"""An eleventh audit, of chapter 07: wrong answers that used to get the generic "differs from
the reference" (or a bare PyTorch error) now get the hint of the mistake they are, the
encoder layer's checker names the learner's own function, and the chapter's text says what
its code does.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example``: the feed-forward network in the column-vector form W₂ ReLU(W₁x + b₁) + b₂, the
pre-norm block that normalises the sublayer's output, the encoder layer given the causal mask,
and the forward pass whose encoder reads <pad>, with no padding mask at all, or whose causal
mask has the source's length. Right answers written another way must still pass.
"""

import math
import re
from pathlib import Path

import torch
from transformer_course import checks
from transformer_course.checks import NOT_ATTEMPTED, PASSED, WRONG
from transformer_course.masks import causal_mask, padding_mask

CHAPTER_07 = Path(__file__).parents[1] / "chapters" / "07_full_transformer.py"


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


# --- 07a the feed-forward network ---


def test_feed_forward_with_the_weights_on_the_left_is_named():
    def column_vectors(x, w_1, b_1, w_2, b_2):
        hidden = torch.relu(torch.matmul(w_1, x) + b_1)  # W₁x, as the old formula read
        return torch.matmul(w_2, hidden) + b_2

    says(checks.check_feed_forward(column_vectors), "weight on the left", "x @ w_1 + b_1")


def test_feed_forward_in_column_vectors_done_right_passes():
    def column_vectors(x, w_1, b_1, w_2, b_2):
        h = torch.relu(w_1.T @ x.unsqueeze(-1) + b_1.unsqueeze(-1))  # (..., d_ff, 1)
        return (w_2.T @ h + b_2.unsqueeze(-1)).squeeze(-1)

    assert checks.check_feed_forward(column_vectors).status == PASSED


# --- 07b Add & Norm ---


def test_pre_norm_that_normalises_the_sublayers_output_is_named():
    def add_norm(block, x, sublayer):
        if block.norm_first:
            out = block.dropout(sublayer(x))
            return x + block.norm(out)
        return block.norm(x + block.dropout(sublayer(x)))

    says(checks.check_add_norm(add_norm), "OUTPUT", "normalises its INPUT", "x + dropout(sublayer(norm(x)))")


# --- 07c the encoder layer ---


def test_an_encoder_layer_not_attempted_is_called_by_the_learners_name():
    def my_encoder_layer(layer, x, mask):
        raise NotImplementedError

    result = checks.check_encoder_layer(my_encoder_layer)
    assert result.status == NOT_ATTEMPTED
    assert result.message.startswith("my_encoder_layer is not attempted yet"), result.message


def test_an_encoder_layer_of_another_name_or_none_is_called_by_the_exercise():
    class Layer:  # a callable without a __name__ of its own
        def __call__(self, layer, x, mask):
            raise NotImplementedError

    for fn in (Layer(), lambda layer, x, mask: (_ for _ in ()).throw(NotImplementedError)):
        result = checks.check_encoder_layer(fn)
        assert result.status == NOT_ATTEMPTED and result.message.startswith("encoder_layer is"), result


def test_encoder_layer_with_the_causal_mask_instead_of_the_padding_mask_is_named():
    def encoder_layer(layer, x, mask):
        attended, _ = layer.self_attn(x, mask=causal_mask(x.shape[1]))
        x = layer.norm1(x + attended)
        return layer.norm2(x + layer.feed_forward(x))

    says(checks.check_encoder_layer(encoder_layer), "causal_mask(L)", "only the padding mask given")


# --- 07e the encoder-decoder forward pass ---


def _forward(parts, src, trg_in, *, encoder_mask=True, padding=True, causal_length=None):
    def embed(ids):
        vectors = parts.embedding(ids) * math.sqrt(parts.embedding.embedding_dim)
        return vectors + parts.positions[: ids.shape[1]]

    src_mask = padding_mask(src, parts.pad_id) if padding else None
    memory = parts.encoder(embed(src), src_mask if encoder_mask else None)
    trg_mask = causal_mask(causal_length(src, trg_in) if causal_length else trg_in.shape[1])
    trg_mask = trg_mask & padding_mask(trg_in, parts.pad_id) if padding else trg_mask
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def test_forward_whose_encoder_reads_pad_is_named():
    result = checks.check_encoder_decoder_forward(lambda p, s, t: _forward(p, s, t, encoder_mask=False))
    says(
        result, "encoder's self-attention must not read <pad>", "parts.encoder(x, padding_mask(src, pad_id))"
    )


def test_forward_without_any_padding_mask_is_named():
    result = checks.check_encoder_decoder_forward(lambda p, s, t: _forward(p, s, t, padding=False))
    says(result, "No mask hides <pad>", "parts.encoder(x, padding_mask(src, pad_id))")


def test_forward_with_a_causal_mask_of_the_source_length_is_named():
    for length in (lambda src, trg: src.shape[1], lambda src, trg: src.size(-1)):
        result = checks.check_encoder_decoder_forward(
            lambda p, s, t, n=length: _forward(p, s, t, causal_length=n)
        )
        says(result, "mix the two lengths", "causal_mask(Lt)")


def test_forward_with_the_right_masks_still_passes():
    assert checks.check_encoder_decoder_forward(_forward).status == PASSED


# --- chapter 07's text says what its code does ---


def markdown(text: str) -> str:
    """The chapter's markdown cells, without their leading '# '."""
    cells = re.split(r"^# %%", text, flags=re.M)
    lines = [cell for cell in cells if cell.lstrip().startswith("[markdown]")]
    return "\n".join(re.sub(r"^# ?", "", line, flags=re.M) for line in lines)


def test_the_feed_forward_formula_reads_in_the_exercises_order():
    text = CHAPTER_07.read_text()
    assert r"\mathrm{ReLU}(x W_1 + b_1)\,W_2 + b_2" in text and "W_1 x" not in text


def test_dropout_and_eval_mode_are_explained_before_the_code_uses_them():
    text = CHAPTER_07.read_text()
    explained = text.index("**Dropout** (`nn.Dropout(p)`)")
    assert explained < text.index("block.dropout") and explained < text.index("dropout=0.0")
    assert "`model.eval()` switches it off" in text


def test_cross_entropy_is_explained_with_the_numbers_the_chapter_prints():
    prose = markdown(CHAPTER_07.read_text())
    assert "**cross-entropy**" in prose and "ln V = 5.81" in prose and "6.90" in prose


def test_the_initialisation_sentence_names_the_factor_it_means():
    text = CHAPTER_07.read_text()
    assert "that factor comes mostly" not in text
    assert "the plain stack's loss of 10¹⁷ comes mostly from the initialisation" in text


def test_prose_writes_d_model_and_d_ff_with_subscripts():
    for line in markdown(CHAPTER_07.read_text()).splitlines():
        outside_code = re.sub(r"`[^`]*`", "", line)
        assert not re.search(r"\bd_(model|ff)\b", outside_code), line


def test_headings_and_titles_say_what_is_shown():
    text = CHAPTER_07.read_text()
    assert "## The paper's base model: 65 million parameters (63 million here)" in text
    assert "Here h and Lt are both 4" in text
    assert 'title="Cross-attention (untrained), head 0, sentence 0' in text
    assert 'title="Encoder-only (BERT), layer 0, head 0, untrained' in text
    assert 'title="Decoder-only (GPT), layer 0, head 0, untrained' in text
    assert 'The lib files a GPT\'s attention under "decoder_self"' in text


def test_the_explorer_uses_the_config_built_above_and_its_head_menu_is_explained():
    text = CHAPTER_07.read_text()
    assert "explorer_config" not in text and "widgets.ModelExplorer(Transformer(config), vocab" in text
    assert '"mean of heads"' in markdown(text)
