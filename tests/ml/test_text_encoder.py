"""The text encoder: network shapes, loss, query sampling, training, retrieval and checkpoints.

Synthetic catalogue: ~200 products whose titles combine a small vocabulary
("Nordlys Relaxed Linen Shirt"), with a description and a category line like the shop's.
"""

from __future__ import annotations

import dataclasses
import io
import random

import numpy as np
import pytest
import torch

from shopguide.ml.text_encoder import (
    TextEncoder,
    TextEncoderConfig,
    TextNet,
    add_typos,
    info_nce,
    reverse_padded,
    sample_query,
    split_document,
)
from shopguide.ml.text_tokenizer import TokenizerConfig

BRANDS = ["Nordlys", "Halden", "Marlowe", "Vellum", "Kestrel", "Tidewater", "Saltmarsh", "Juniper"]
STYLES = ["Relaxed", "Classic", "Vintage", "Tailored", "Chunky", "Minimal"]
MATERIALS = ["Linen", "Cashmere", "Denim", "Leather", "Canvas", "Merino"]
PRODUCTS = {
    "Shirt": "Shirts",
    "Trousers": "Trousers",
    "Sweater": "Knitwear",
    "Sneakers": "Shoes",
    "Backpack": "Bags",
    "Overcoat": "Coats",
}
COLOURS = ["black", "navy", "grey", "olive", "camel"]
SEASONS = ["summer", "winter", "spring", "autumn"]


def make_catalogue(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` distinct products as (documents, titles)."""
    rng = random.Random(seed)
    titles: set[str] = set()
    while len(titles) < n:
        titles.add(f"{rng.choice(BRANDS)} {rng.choice(STYLES)} {rng.choice(MATERIALS)} {rng.choice(list(PRODUCTS))}")
    ordered = sorted(titles)
    rng.shuffle(ordered)
    documents = [
        f"{t}\nA {t.split()[1].lower()} piece in {rng.choice(COLOURS)} for {rng.choice(SEASONS)} days.\n"
        f"{PRODUCTS[t.split()[-1]]}"
        for t in ordered
    ]
    return documents, ordered


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: these tiny LSTMs gain nothing from a second one, and on a busy
    machine OpenMP's hand-offs between threads make every step many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def catalogue() -> tuple[list[str], list[str]]:
    return make_catalogue(200, seed=0)


@pytest.fixture
def tiny_config() -> TextEncoderConfig:
    """Small enough that training on 200 products takes a few seconds on two cores."""
    return TextEncoderConfig(
        tokenizer=TokenizerConfig(n_buckets=2**14),
        embedding_dim=32,
        piece_dim=32,
        hidden_dim=32,
        epochs=30,
        batch_size=64,
        seed=0,
    )


@pytest.fixture(scope="module")
def trained(catalogue) -> TextEncoder:
    config = TextEncoderConfig(
        tokenizer=TokenizerConfig(n_buckets=2**14),
        embedding_dim=32,
        piece_dim=32,
        hidden_dim=32,
        epochs=40,
        batch_size=64,
        seed=0,
    )
    encoder = TextEncoder(config, device="cpu")
    encoder.fit(catalogue[0])
    return encoder


# --------------------------------------------------------------------------- network pieces


def test_textnet_gives_unit_norm_embeddings(tiny_config):
    model = TextNet(tiny_config).eval()
    pieces = torch.randint(1, tiny_config.tokenizer.n_buckets, (7, 9))
    pieces[0] = 0  # row 0: no word
    words = torch.tensor([[1, 2, 3, 4, 5, 6], [3, 1, 2, 0, 0, 0], [6, 0, 0, 0, 0, 0], [2, 2, 0, 0, 0, 0]])
    out = model(pieces, words, torch.tensor([6, 3, 1, 2]))
    assert out.shape == (4, tiny_config.embedding_dim)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4))


def test_reverse_padded_reverses_within_length_only():
    x = torch.arange(8.0).reshape(2, 4, 1)
    out = reverse_padded(x, torch.tensor([4, 2]))
    assert out[:, :, 0].tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]
    torch.testing.assert_close(reverse_padded(out, torch.tensor([4, 2])), x)


def test_info_nce_prefers_matching_pairs_and_masks_duplicates():
    docs = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    keys = torch.arange(8)
    assert info_nce(docs, docs, keys, 0.1) < info_nce(docs, docs.roll(1, dims=0), keys, 0.1)
    # Rows 0 and 1 are the same document: the copy must not count as a negative.
    twin = docs.clone()
    twin[1] = twin[0]
    masked = info_nce(twin, twin, torch.tensor([0, 0, 2, 3, 4, 5, 6, 7]), 0.1)
    assert masked < info_nce(twin, twin, keys, 0.1)


def test_embedding_does_not_depend_on_batch_padding(tiny_config):
    encoder = TextEncoder(tiny_config, device="cpu")
    alone = encoder.embed(["linen shirt"])
    batched = encoder.embed(["linen shirt", "a much longer text with many more words than the first one"])
    np.testing.assert_allclose(alone[0], batched[0], atol=1e-6)


# --------------------------------------------------------------------------- query sampling


def test_split_document():
    assert split_document("Linen Shirt\nLight and cool.\nShirts & Tops") == (
        "Linen Shirt",
        ["Light and cool."],
        ["Shirts", "Tops"],
    )
    assert split_document("Heat\nAction|Crime|Drama") == ("Heat", ["Action|Crime|Drama"], ["Action", "Crime", "Drama"])
    assert split_document("\n  Title only \n") == ("Title only", [], [])
    assert split_document("") == ("", [], [])


def test_add_typos_changes_long_words_only():
    rng = random.Random(0)
    for _ in range(50):
        out = add_typos("a tee cashmere", rng, 1)
        assert out.startswith("a tee ") and out != "a tee cashmere"
    assert add_typos("a tee", rng, 2) == "a tee"


def test_sample_query_is_seeded_and_draws_from_the_document(catalogue):
    config = TextEncoderConfig()
    document = catalogue[0][0]
    first = [sample_query(document, random.Random(3), config) for _ in range(2)]
    assert first[0] == first[1]
    rng = random.Random(0)
    queries = [sample_query(document, rng, config) for _ in range(200)]
    title = catalogue[1][0]
    assert title in queries  # the clean title is one of the kinds
    assert any(q != title and q in title for q in queries)  # clean fragments
    assert any(q.split()[0] not in title for q in queries)  # typos, description or attributes
    assert all(q for q in queries)


# --------------------------------------------------------------------------- training and retrieval


def test_fit_reduces_the_loss_and_is_deterministic(catalogue, tiny_config):
    documents = catalogue[0][:64]
    config = dataclasses.replace(tiny_config, epochs=8, batch_size=32)
    first, second = TextEncoder(config, device="cpu"), TextEncoder(config, device="cpu")
    result = first.fit(documents, pairs=[("linen", 0), ("warm coat", 5)])
    second.fit(documents, pairs=[("linen", 0), ("warm coat", 5)])
    assert len(result.losses) == 8 and result.losses[-1] < 0.7 * result.losses[0]
    assert result.num_documents == 64 and result.num_pairs == 2 and result.texts_per_second > 0
    np.testing.assert_array_equal(first.embed(documents[:5]), second.embed(documents[:5]))


def test_embed_shape_dtype_and_norm(trained, catalogue):
    vectors = trained.embed(catalogue[0], batch_size=50)
    assert vectors.shape == (200, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(trained.embed(catalogue[0][:3]), vectors[:3], atol=1e-6)


def test_typo_queries_find_their_product(trained, catalogue):
    documents, titles = catalogue
    rng = random.Random(1)
    targets = rng.sample(range(len(titles)), 60)
    queries = [add_typos(titles[i], rng, 1) for i in targets]
    scores = trained.embed(queries) @ trained.embed(documents).T
    top1 = float(np.mean(scores.argmax(axis=1) == np.array(targets)))
    assert top1 >= 0.8, f"typo'd title ranked its product first for only {top1:.0%} (chance: 0.5%)"


def test_fragments_find_products_that_contain_them(trained, catalogue):
    documents, titles = catalogue
    scores = trained.embed(["cashmere sweater", "nordlys"]) @ trained.embed(documents).T
    for row, words in zip(scores, (["cashmere", "sweater"], ["nordlys"])):
        top = np.argsort(-row)[:3]
        assert all(all(w in titles[i].lower() for w in words) for i in top)


# --------------------------------------------------------------------------- persistence and errors


def test_checkpoint_round_trip(trained, catalogue):
    buffer = io.BytesIO()
    trained.save(buffer)
    buffer.seek(0)
    loaded = TextEncoder.load(buffer, device="cpu")
    assert loaded.config == trained.config
    assert loaded.metrics == trained.metrics and loaded.metrics["losses"]
    texts = catalogue[0][:10] + ["cashmire sweeter", ""]
    np.testing.assert_array_equal(loaded.embed(texts), trained.embed(texts))


def test_load_rejects_other_files():
    buffer = io.BytesIO()
    torch.save({"format": "something else"}, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="not a shopguide text encoder"):
        TextEncoder.load(buffer, device="cpu")


def test_bad_input_raises_value_error(tiny_config):
    encoder = TextEncoder(tiny_config, device="cpu")
    with pytest.raises(ValueError, match="no texts"):
        encoder.embed([])
    with pytest.raises(ValueError, match="at least 2 documents"):
        encoder.fit(["only one"])
    with pytest.raises(ValueError, match="bad pair"):
        encoder.fit(["one", "two"], pairs=[("query", 2)])
    with pytest.raises(ValueError, match="strings"):
        encoder.fit(["one", 2])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        TextEncoderConfig(title_weight=0, fragment_weight=0, description_weight=0, attribute_weight=0)
