"""Exact neighbour lists (shopguide.ml.neighbours) against a plain numpy brute force."""

from __future__ import annotations

import numpy as np
import pytest

from shopguide.ml.neighbours import closest_of, neighbour_lists, top_items_for_queries


def brute_force(spaces, weights, depth):
    """Fused cosine top-depth per row, the way the docstring defines it, one row at a time."""
    n = len(next(iter(spaces.values())))
    out = []
    for a in range(n):
        scores = np.full(n, -np.inf)
        for b in range(n):
            if a == b:
                continue
            total, shared = 0.0, False
            for name, w in weights.items():
                x, y = spaces[name][a], spaces[name][b]
                if np.linalg.norm(x) > 0 and np.linalg.norm(y) > 0:
                    total += w * float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
                    shared = True
            if shared:
                scores[b] = total
        order = [b for b in np.argsort(-scores, kind="stable") if np.isfinite(scores[b])][:depth]
        out.append((order, scores[order]))
    return out


@pytest.fixture
def spaces():
    rng = np.random.default_rng(0)
    image = rng.standard_normal((40, 6)).astype(np.float32)
    image[[3, 17]] = 0  # two products without an image
    text = rng.standard_normal((40, 5)).astype(np.float32)
    return {"image": image, "text": text}


def test_fused_and_single_space_lists_match_brute_force(spaces):
    kinds = {"": {"image": 1.0, "text": 0.5}, "image": {"image": 1.0}}
    lists = neighbour_lists(spaces, kinds, depth=7, device="cpu", batch=8)  # several batches
    for kind, weights in kinds.items():
        expected = brute_force(spaces, weights, 7)
        for row, (order, scores) in enumerate(expected):
            found = lists[kind].rows[row][lists[kind].rows[row] >= 0]
            np.testing.assert_allclose(lists[kind].scores[row][: len(found)], scores, rtol=1e-5, atol=1e-5)
            assert len(found) == len(order)
            assert set(found.tolist()) == set(order)  # ties may swap places, never members
    assert 3 not in lists["image"].rows and 17 not in lists["image"].rows  # no image, no "looks like"
    assert (lists["image"].rows[3] == -1).all()


def test_reason_is_the_space_that_contributed_most(spaces):
    lists = neighbour_lists(spaces, {"": {"image": 1.0, "text": 1.0}}, depth=5, device="cpu")[""]
    unit = {k: v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12) for k, v in spaces.items()}
    for row in range(40):
        for rank, other in enumerate(lists.rows[row]):
            contributions = [float(unit[name][row] @ unit[name][other]) for name in ("image", "text")]
            assert lists.spaces[row, rank] == int(np.argmax(contributions))


def test_top_items_leave_out_what_the_shopper_met():
    rng = np.random.default_rng(1)
    items = rng.standard_normal((30, 4)).astype(np.float32)
    queries = rng.standard_normal((3, 4)).astype(np.float32)
    exclude = [np.array([0, 1, 2]), np.array([], np.int64), np.arange(28)]
    rows, scores = top_items_for_queries(queries, items, depth=5, exclude=exclude, device="cpu")
    for q in range(2):
        expected = [i for i in np.argsort(-(items @ queries[q])) if i not in set(exclude[q])][:5]
        assert rows[q].tolist() == expected
        np.testing.assert_allclose(scores[q], items[expected] @ queries[q], rtol=1e-5)
    assert sorted(rows[2][:2].tolist()) == [28, 29] and (rows[2][2:] == -1).all()  # only two were left


def test_closest_of_picks_the_most_similar_reference():
    references = np.array([[1, 0], [0, 1]], np.float32)
    assert closest_of(np.array([[5, 1], [0.2, 3]], np.float32), references).tolist() == [0, 1]
