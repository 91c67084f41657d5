"""Approximate neighbour lists (shopguide.ml.ivf) against the exact build they stand in for."""

from __future__ import annotations

import numpy as np
import pytest

from shopguide.ml.ivf import IVFConfig, IVFPlan, approximate_neighbour_lists, sampled_recall
from shopguide.ml.neighbours import neighbour_lists

pytestmark = pytest.mark.usefixtures("single_thread")  # small blocks: a second thread only waits

KINDS = {"": {"image": 1.0, "text": 0.5}, "image": {"image": 1.0}, "text": {"text": 1.0}}


def clustered(n: int, dims: int, rng: np.random.Generator, clusters: int = 12) -> np.ndarray:
    """Rows around a few centres, as learned embeddings are."""
    centres = rng.standard_normal((clusters, dims))
    return (centres[rng.integers(0, clusters, n)] + 0.35 * rng.standard_normal((n, dims))).astype(np.float32)


@pytest.fixture
def spaces():
    rng = np.random.default_rng(0)
    image, text = clustered(400, 8, rng), clustered(400, 6, rng)
    image[[3, 17, 50]] = 0  # no image
    text[[17, 60, 61]] = 0  # no text (17: neither)
    image[200:220] = 0  # only text
    text[220:240] = 0  # only image: shares no space with 200-219 in the fused kind
    return {"image": image, "text": text}


def test_probing_every_cell_finds_what_the_exact_build_finds(spaces):
    exact = neighbour_lists(spaces, KINDS, depth=9, device="cpu")
    plans: dict[str, IVFPlan] = {}
    every_cell = IVFConfig(nprobe=10**6)
    found = approximate_neighbour_lists(spaces, KINDS, depth=9, device="cpu", config=every_cell, plans=plans)
    for kind in KINDS:
        assert plans[kind].cells > 1 and plans[kind].nprobe == plans[kind].cells
        np.testing.assert_allclose(found[kind].scores, exact[kind].scores, atol=1e-5)
        for a, b in zip(found[kind].rows, exact[kind].rows):
            assert set(a.tolist()) == set(b.tolist())  # ties may swap places, never members
        same = found[kind].rows == exact[kind].rows
        assert (found[kind].spaces[same] == exact[kind].spaces[same]).all()
    assert (found["image"].rows[3] == -1).all() and 3 not in found["image"].rows  # no image, no "looks like"


def test_self_and_rows_sharing_no_space_are_never_listed(spaces):
    # Few cells probed: the approximate path proper, with rows missing a space in the blocks.
    lists = approximate_neighbour_lists(spaces, KINDS, depth=9, device="cpu", config=IVFConfig(nprobe=2))
    has = {name: np.linalg.norm(matrix, axis=1) > 0 for name, matrix in spaces.items()}
    for kind, weights in KINDS.items():
        for row, neighbours in enumerate(lists[kind].rows):
            neighbours = neighbours[neighbours >= 0]
            assert row not in neighbours
            for other in neighbours:
                assert any(has[name][row] and has[name][other] for name in weights)
    assert (lists[""].rows[17] == -1).all()  # neither space: no list
    only_text, only_image = set(range(200, 220)), set(range(220, 240))
    assert not only_image & set(lists[""].rows[205].tolist()) and not only_text & set(lists[""].rows[225].tolist())


def test_recall_is_high_on_clustered_data_and_the_search_is_approximate():
    rng = np.random.default_rng(3)
    spaces = {"image": clustered(4000, 16, rng, clusters=40), "text": clustered(4000, 12, rng, clusters=40)}
    plans: dict[str, IVFPlan] = {}
    lists = approximate_neighbour_lists(spaces, KINDS, depth=20, device="cpu", plans=plans)
    recalls = sampled_recall(spaces, KINDS, lists, k=10, sample=500, seed=11, device="cpu")
    for kind in KINDS:
        assert plans[kind].candidates_per_row < 0.5 * plans[kind].rows  # it did not score everything
        assert plans[kind].predicted_recall >= 0.99
        assert recalls[kind].recall >= 0.97 and recalls[kind].rows == 500
        assert recalls[kind].low <= recalls[kind].recall <= recalls[kind].high


def test_the_same_seed_builds_the_same_lists(spaces):
    first = approximate_neighbour_lists(spaces, KINDS, depth=5, device="cpu", config=IVFConfig(seed=4))
    again = approximate_neighbour_lists(spaces, KINDS, depth=5, device="cpu", config=IVFConfig(seed=4))
    for kind in KINDS:
        assert (first[kind].rows == again[kind].rows).all() and (first[kind].scores == again[kind].scores).all()


def test_sampled_recall_counts_what_the_lists_miss(spaces):
    exact = neighbour_lists(spaces, KINDS, depth=10, device="cpu")
    assert all(r.recall == 1.0 for r in sampled_recall(spaces, KINDS, exact, sample=100, device="cpu").values())
    damaged = dict(exact)
    rows = exact["image"].rows.copy()
    rows[:, 5:] = -1  # half of every list lost
    damaged["image"] = type(exact["image"])(rows, exact["image"].scores, exact["image"].spaces)
    recall = sampled_recall(spaces, KINDS, damaged, sample=100, device="cpu")["image"]
    assert recall.recall == pytest.approx(0.5, abs=0.02)


def test_exact_lists_of_some_rows_are_those_rows_of_the_whole_build(spaces):
    whole = neighbour_lists(spaces, KINDS, depth=6, device="cpu")
    rows = np.array([0, 17, 205, 399])
    part = neighbour_lists(spaces, KINDS, depth=6, device="cpu", rows=rows, batch=3)
    for kind in KINDS:
        np.testing.assert_allclose(part[kind].scores, whole[kind].scores[rows], atol=1e-6)


def test_searching_some_rows_gives_those_rows_of_the_whole_search(spaces):
    whole = approximate_neighbour_lists(spaces, KINDS, depth=6, device="cpu", config=IVFConfig(nprobe=2))
    some = np.array([0, 5, 17, 205, 230, 399])
    part = approximate_neighbour_lists(spaces, KINDS, depth=6, device="cpu", config=IVFConfig(nprobe=2), rows=some)
    others = np.setdiff1d(np.arange(400), some)
    for kind in KINDS:
        assert (part[kind].rows[some] == whole[kind].rows[some]).all()
        assert (part[kind].rows[others] == -1).all()
