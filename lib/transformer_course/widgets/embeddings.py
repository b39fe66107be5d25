"""Tokens and embeddings (chapter 01): a sentence → tokens and ids → vectors → similarities."""

from __future__ import annotations

import ipywidgets as widgets

from .. import figures
from ..embeddings import TokenEmbedding, similarity_matrix
from ..tokenizer import Vocab
from .kit import SentenceExplorer, check_embedding, counted, drawable, sentence_box, token_labels
from .tables import token_table


class EmbeddingExplorer(SentenceExplorer):
    """Chapter 01. Type a sentence → its tokens and ids, their vectors, their similarities."""

    def __init__(self, vocab: Vocab, embedding: TokenEmbedding, text: str = "tell me about pizza"):
        check_embedding(vocab, embedding)
        super().__init__(
            vocab,
            embedding,
            controls={
                "text": sentence_box(text),
                "similarity": widgets.ToggleButtons(
                    options=["cosine", "dot"], value="cosine", description="Similarity"
                ),
            },
            views={"tokens": "html", "vectors": "figure", "similarity": "figure"},
        )

    def render(self):
        tokens, ids = self.read(self.value("text"))
        tokens = token_labels(tokens)  # as the table and the axes show them
        vectors = drawable(self.embed(ids))  # (T, d_model)
        kind = self.value("similarity")
        return {
            "tokens": token_table(tokens, ids),
            "vectors": figures.embedding_heatmap(
                vectors, tokens, title=f"{counted(len(tokens), 'token')} × {vectors.shape[1]} dimensions"
            ),
            "similarity": figures.similarity_heatmap(
                similarity_matrix(vectors, kind),
                tokens,
                cosine=kind == "cosine",
                title=f"{kind} similarity of every pair",
            ),
        }
