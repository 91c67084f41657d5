"""The LSTM behaviour model on synthetic sequences: shapes, learning, content features, checkpoints."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch

from shopguide.ml.evaluation import MarkovRecommender, PopularityRecommender, evaluate, leave_last_out
from shopguide.ml.sequence_model import SequenceModelConfig, SequenceNet, SequenceRecommender

# Small enough that a fit over a few hundred events takes a fraction of a second.
TINY = SequenceModelConfig(
    embedding_dim=16, hidden_dim=32, max_len=8, epochs=5, batch_size=16, lr=3e-2, dropout=0.0, loss="full"
)


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is faster than two, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cyclic_groups(n_users: int = 80, *, n_items: int = 12, seed: int = 0) -> list[np.ndarray]:
    """Two user groups walk the same items in different cyclic orders.

    The next item depends on the group, which only the earlier items reveal: a first-order
    Markov chain must guess wherever the two orders disagree, a sequence model need not.
    """
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(n_items), rng.permutation(n_items)]
    sequences = []
    for user in range(n_users):
        order = orders[user % 2]
        start, length = rng.integers(0, n_items), rng.integers(6, 11)
        sequences.append(order[(start + np.arange(length)) % n_items].astype(np.int64))
    return sequences


def test_net_shapes():
    net = SequenceNet(TINY, n_items=10, n_features=3)
    items = torch.randint(2, 12, (4, 7))
    events = torch.randint(0, TINY.n_event_types, (4, 7))
    assert net(items, events).shape == (4, 7, TINY.embedding_dim)
    assert net.item_table().shape == (12, TINY.embedding_dim)
    assert net.output_items().shape == (10, TINY.embedding_dim)


def test_recommender_shapes_and_scores_are_dot_products():
    model = SequenceRecommender(TINY, n_items=10, device="cpu")
    histories = [np.array([1, 2, 3]), np.array([], dtype=np.int64), np.arange(10)]  # longer than max_len too
    users, items = model.user_vectors(histories), model.item_vectors()
    assert users.shape == (3, 16) and users.dtype == np.float32
    assert items.shape == (10, 16) and items.dtype == np.float32
    np.testing.assert_allclose(model.scores(histories), users @ items.T, rtol=1e-6)


def test_event_types_are_an_input():
    model = SequenceRecommender(TINY, n_items=10, device="cpu")
    history = [np.array([1, 2, 3])]
    views = model.user_vectors(history, [np.array([0, 0, 0])])
    purchases = model.user_vectors(history, [np.array([2, 2, 2])])
    assert not np.allclose(views, purchases)


def test_loss_falls_when_overfitting():
    sequences = cyclic_groups(16)
    calls = []
    result = SequenceRecommender(dataclasses.replace(TINY, epochs=30), n_items=12, device="cpu").fit(
        sequences, progress=lambda fraction, message: calls.append(fraction)
    )
    assert len(result.losses) == 30 and calls[-1] == 1.0
    # The first item of a sequence (and the group of the second) cannot be known: the loss
    # cannot reach 0, but memorising the chains must cut it well down.
    assert result.losses[-1] < 0.6 * result.losses[0]
    assert result.seconds > 0 and result.sequences_per_second > 0


def test_learns_group_dependent_chains_better_than_baselines():
    n_items = 12
    split = leave_last_out(cyclic_groups(n_items=n_items))
    config = dataclasses.replace(TINY, epochs=40)
    model = SequenceRecommender(config, n_items=n_items, device="cpu")
    result = model.fit(split.train, valid=(split.train, split.valid_targets))
    assert result.valid_metrics and 1 <= result.best_epoch <= config.epochs

    def hr1(recommender) -> float:
        return evaluate(recommender, split.train_plus_valid, split.test_targets, n_items=n_items, k=1)["hr@1"]

    lstm = hr1(model)
    markov = hr1(MarkovRecommender().fit(split.train, n_items))
    popular = hr1(PopularityRecommender().fit(split.train, n_items))
    assert lstm > 0.9
    assert lstm > markov + 0.15 and lstm > popular + 0.5


def test_content_features_rank_a_new_item():
    # Three categories of four items; each user buys within one category. Features: a noisy
    # one-hot category. After training, brand-new items (content only) are ranked by category.
    rng = np.random.default_rng(0)
    n_items, categories = 12, np.repeat(np.arange(3), 4)
    features = np.eye(3)[categories] + rng.normal(0, 0.05, (n_items, 3))
    sequences = [rng.choice(np.flatnonzero(categories == user % 3), size=6) for user in range(90)]
    config = dataclasses.replace(TINY, epochs=15, id_dropout=0.5)
    model = SequenceRecommender(config, n_items=n_items, item_features=features, device="cpu")
    model.fit(sequences)

    new_items = model.item_vectors_for(np.eye(3))  # one new item per category
    assert new_items.shape == (3, config.embedding_dim)
    users = model.user_vectors([np.flatnonzero(categories == c)[:2] for c in range(3)])
    assert ((users @ new_items.T).argmax(1) == np.arange(3)).all()


def test_fit_is_deterministic_and_checkpoint_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    features = rng.normal(size=(12, 4))
    sequences = cyclic_groups(20)
    events = [rng.integers(0, 5, len(s)) for s in sequences]
    config = dataclasses.replace(TINY, epochs=3, dropout=0.2, id_dropout=0.2, content_dropout=0.2)
    first, second = (SequenceRecommender(config, n_items=12, item_features=features, device="cpu") for _ in range(2))
    assert first.fit(sequences, events).losses == second.fit(sequences, events).losses
    np.testing.assert_array_equal(first.item_vectors(), second.item_vectors())

    buffer = io.BytesIO()
    first.save(buffer)
    buffer.seek(0)
    loaded = SequenceRecommender.load(buffer, device="cpu")
    assert loaded.config == config and loaded.metrics == first.metrics
    np.testing.assert_array_equal(loaded.item_vectors(), first.item_vectors())
    np.testing.assert_array_equal(loaded.user_vectors(sequences, events), first.user_vectors(sequences, events))
    np.testing.assert_array_equal(loaded.item_vectors_for(features[:2]), first.item_vectors_for(features[:2]))

    path = tmp_path / "model.pt"
    first.save(path)
    np.testing.assert_array_equal(SequenceRecommender.load(path, device="cpu").item_vectors(), first.item_vectors())


def test_sampled_loss_trains():
    config = dataclasses.replace(TINY, loss="sampled", n_negatives=8, epochs=10)
    result = SequenceRecommender(config, n_items=12, device="cpu").fit(cyclic_groups(16))
    assert result.losses[-1] < result.losses[0]


def test_load_rejects_other_files():
    buffer = io.BytesIO()
    torch.save({"format": "something else"}, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="checkpoint"):
        SequenceRecommender.load(buffer, device="cpu")


def test_bad_input_raises():
    model = SequenceRecommender(TINY, n_items=5, device="cpu")
    with pytest.raises(ValueError, match="no sequences"):
        model.fit([])
    with pytest.raises(ValueError, match="no events"):
        model.fit([np.array([], dtype=np.int64)])
    with pytest.raises(ValueError, match="outside"):
        model.fit([np.array([1, 5])])
    with pytest.raises(ValueError, match="outside"):
        model.user_vectors([np.array([-1])])
    with pytest.raises(ValueError, match="event types"):
        model.fit([np.array([1, 2])], [np.array([0])])
    with pytest.raises(ValueError, match="event types"):
        model.fit([np.array([1, 2])], [np.array([0, 9])])
    with pytest.raises(ValueError, match="integer"):
        model.user_vectors([np.array([1.5])])
    with pytest.raises(ValueError, match="without item features"):
        model.item_vectors_for(np.ones((1, 3)))
    with pytest.raises(ValueError, match="item features"):
        SequenceRecommender(TINY, n_items=5, item_features=np.ones((4, 3)), device="cpu")
    with pytest.raises(ValueError):
        SequenceModelConfig(loss="bpr")
    with pytest.raises(ValueError):
        SequenceModelConfig(dropout=1.0)
