"""Embedding spaces and their registry.

Each space module (``image``, ``text``, ``behaviour``) declares one :class:`Space`, ``SPACE``: its
name, the metric its vectors are searched with and the vector indexes a version builds, how the
API, the admin and the widgets word it, how to train its model on a snapshot and how to embed
products with a saved version. Everything that goes over "the spaces" (training, the stored
lists and their reasons, related products, the API's ``space`` choices, the gate, the admin)
reads this registry, so adding a space is its own module plus one line in :data:`SPACE_MODULES`.

Training hands :class:`TrainedSpace` (and the behaviour model's :class:`UserVectors`) to the next
steps; the metrics in it are exactly what ``ModelVersion.metrics[name]`` stores.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# The registered spaces, in training order (a space may read the vectors of those before it: the
# behaviour model reads image and text vectors as item content). The order is also each space's
# index in stored related lists' reasons (RelatedList.reasons): append only.
SPACE_MODULES = ("shopguide.spaces.image", "shopguide.spaces.text", "shopguide.spaces.behaviour")


@dataclass(frozen=True)
class UserVectors:
    """The behaviour model's shopper vectors from training: one row per customer id."""

    user_ids: list[Any]
    vectors: np.ndarray  # float32 (U, D)


@dataclass(frozen=True)
class TrainedSpace:
    """One space's model trained on a snapshot, as the later steps of training need it.

    ``vectors`` has a row per catalogue product in the snapshot's order (zeros where a product
    has none, e.g. no image): evaluation, the fusion weights and the behaviour model's item content
    read them. ``stored`` are the rows training already wrote as the version's ProductVector rows,
    computed exactly as the embedding chunks would compute them; the chunks skip those products.
    """

    name: str
    metrics: dict[str, Any]  # stored as ModelVersion.metrics[name], as is
    dimensions: int
    vectors: np.ndarray
    held_out_scores: np.ndarray | None = None  # per held-out query: what the gate compares
    # The check that keeps the space in (or takes it out of) the fused related products: its
    # held-out comparison with its own baseline; None = always fused.
    fusion_check: dict[str, Any] | None = None
    stored: np.ndarray | None = None  # rows of ``vectors`` written by training (None: none)
    users: UserVectors | None = None


@dataclass(frozen=True)
class Space:
    """What one embedding space declares (see the module docstring)."""

    name: str
    metric: str  # how its vectors are compared ("cosine" or "ip")
    index_metrics: tuple[str, ...]  # one HNSW index per metric, built for each version
    reason: str  # why a related product is shown, e.g. "looks like {title}"
    list_label: str  # what the widgets and the API call the space's own list ("" = just the name)
    held_out_figure: tuple[str, str]  # (what its held-out score is, what it counts), for the gate
    training_share: float  # its share of the training stage's progress bar
    # (catalog, events, *, version, trained: {name: TrainedSpace} of the spaces before it,
    #  overrides, progress) -> TrainedSpace; raises TrainingRefused when its data are missing
    train: Callable[..., TrainedSpace]
    # (version, products) -> (product ids, (M, D) vectors, errors by pk)
    embed_products: Callable[..., tuple[list[Any], np.ndarray, dict[Any, str]]]
    # (version, catalog, events) -> per-query held-out scores of an older version, or None
    version_scores: Callable[..., np.ndarray | None]
    # (its ModelVersion.metrics entry, {} when absent) -> (rows (label, figure, estimate), notes
    # (label, sentence or None)): its part of the admin's table of held-out figures
    held_out_report: Callable[[dict], tuple[list, list]] = lambda metrics: ([], [])

    @property
    def label(self) -> str:
        """The name with what shops call its list: "image (looks similar)"."""
        return f"{self.name} ({self.list_label})" if self.list_label else self.name


_registry: dict[str, Space] | None = None


def _loaded_registry() -> dict[str, Space]:
    global _registry
    if _registry is None:
        loaded = [importlib.import_module(path).SPACE for path in SPACE_MODULES]
        _registry = {space.name: space for space in loaded}
    return _registry


def spaces() -> Mapping[str, Space]:
    """The registered spaces by name, in :data:`SPACE_MODULES` order (loaded on first use)."""
    return _loaded_registry()


def get_space(name: str) -> Space:
    return spaces()[name]


def space_names() -> tuple[str, ...]:
    return tuple(spaces())


def register(space: Space) -> None:
    """Add (or replace) a space after those of :data:`SPACE_MODULES` (an extension's, a test's)."""
    _loaded_registry()[space.name] = space


def unregister(name: str) -> None:
    _loaded_registry().pop(name, None)
