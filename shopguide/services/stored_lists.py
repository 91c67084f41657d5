"""Writing the lists that serving reads in one row: each product's related products (fused and
per space) and each shopper's personal recommendations.

``build_related_lists`` and ``build_shopper_lists`` compute them exactly (every product against
every product, in torch; related lists of a large catalogue on a CPU approximately, in IVF cells,
with their recall measured) when a version is built, before it is activated. Between trainings they
follow the catalogue and the shoppers: a re-embedded product gets its own lists again and enters
its neighbours' lists (``store_product_lists``), and a shopper's event stores a new list from the
light queue (``store_shopper_list``). A stored list never goes stale unseen: a shopper's list names
the newest event it was computed from, and serving computes live when there is a newer one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Max, Q

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.models import Interaction, ModelVersion, RelatedList, ShopperList
from shopguide.spaces import space_names
from shopguide.vectors import read_product_vectors

if TYPE_CHECKING:
    from shopguide.ml.neighbours import NeighbourLists

logger = logging.getLogger(__name__)


def reason_indexes() -> dict[str, int]:
    """What RelatedList.reasons stores for each space: its position in the registry of spaces."""
    return {name: i for i, name in enumerate(space_names())}


def record_list_depth(version: ModelVersion) -> int:
    """The depth ``version``'s lists are built with now (SHOPGUIDE["LIST_DEPTH"]), recorded on the
    version: the reader compares a stored list with it, whatever the setting says later."""
    depth = shopguide_settings.LIST_DEPTH
    if version.list_depth != depth:
        ModelVersion.objects.filter(pk=version.pk).update(list_depth=depth)
        version.list_depth = depth
    return depth


def list_depth(version: ModelVersion) -> int:
    """The depth of ``version``'s lists: a list stored between trainings keeps to it too (the
    current setting for a version built before the depth was recorded)."""
    return version.list_depth or shopguide_settings.LIST_DEPTH


# -- related products -------------------------------------------------------------------------------


def related_list_kinds(version: ModelVersion) -> dict[str, dict[str, float]]:
    """What is stored per product: "" = fused over the spaces with their tuned weights, and each
    space's own list ("looks similar", "customers also bought")."""
    from shopguide.ranking import related_weights

    fused = related_weights(version)
    kinds = {"": fused} if fused else {}
    kinds.update({name: {name: 1.0} for name in version.dimensions})
    return kinds


def build_related_lists(version: ModelVersion, *, progress: Callable[[float, str], None] | None = None) -> int:
    """Compute and store every product's related lists for ``version`` (replacing any stored
    before, so a re-delivered finish step is harmless). Returns the number of lists written.

    Exact (every product against every product) below SHOPGUIDE["EXACT_LISTS_BELOW"] products,
    or below EXACT_LISTS_BELOW_ON_GPU on a CUDA device; above, approximate (IVF cells in
    shopguide.ml.ivf) with its recall@10 against exact measured on a sample of products and
    logged, beside the build time."""
    kinds = related_list_kinds(version)
    depth = record_list_depth(version)
    if progress:
        progress(0.0, "related lists: reading vectors")
    product_ids, spaces = load_space_matrices(version, list(version.dimensions))
    computed = compute_related_lists(spaces, kinds, depth=depth, progress=progress)
    if progress:
        progress(0.8, "related lists: writing")
    RelatedList.objects.filter(version=version).delete()
    present = {name: np.abs(matrix).sum(axis=1) > 0 for name, matrix in spaces.items()}
    reason_index = reason_indexes()
    written = 0
    for kind, weights in kinds.items():
        lists, names = computed[kind], list(weights)
        # Only products with a vector in one of the kind's spaces get a list of that kind.
        has_vector = np.logical_or.reduce([present[name] for name in names])

        def rows(lists=lists, names=names, has_vector=has_vector, reason_index=reason_index):
            for row in np.flatnonzero(has_vector):
                found = lists.rows[row] >= 0
                yield (
                    product_ids[row],
                    [str(product_ids[i]) for i in lists.rows[row][found]],
                    lists.scores[row][found],
                    [reason_index[names[s]] for s in lists.spaces[row][found]],
                )

        written += _copy_related(version, kind, rows())
    return written


def compute_related_lists(
    spaces: dict[str, np.ndarray],
    kinds: dict[str, dict[str, float]],
    *,
    depth: int,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, NeighbourLists]:
    """Every row's lists of every kind, exact or approximate by the
    size of the catalogue and the device (see ``build_related_lists``); logs which, how long it
    took and, when approximate, the recall measured on a sample."""
    from shopguide.ml.device import resolve_device
    from shopguide.ml.ivf import IVFConfig, IVFPlan, approximate_neighbour_lists, sampled_recall
    from shopguide.ml.neighbours import neighbour_lists

    device = resolve_device(shopguide_settings.DEVICE)
    if not spaces:
        return {}
    n = len(next(iter(spaces.values())))
    on_gpu = device.type == "cuda"
    below = shopguide_settings.EXACT_LISTS_BELOW_ON_GPU if on_gpu else shopguide_settings.EXACT_LISTS_BELOW
    exact = below is None or n < below
    label = "exact neighbours" if exact else "approximate neighbours (IVF)"

    def step(fraction: float) -> None:  # the neighbours are 20 % to 80 % of the build
        if progress:
            progress(0.2 + 0.6 * fraction, f"related lists: {label}")

    step(0.0)
    started = time.perf_counter()
    if exact or not kinds:
        computed = neighbour_lists(spaces, kinds, depth=depth, device=str(device), progress=step)
        logger.info("related lists of %d products: exact on %s in %.1f s", n, device, time.perf_counter() - started)
        return computed
    config = IVFConfig()
    plans: dict[str, IVFPlan] = {}
    computed = approximate_neighbour_lists(
        spaces, kinds, depth=depth, device=str(device), config=config, progress=step, plans=plans
    )
    elapsed = time.perf_counter() - started
    if progress:
        progress(0.8, "related lists: measuring their recall on a sample")
    recalls = sampled_recall(spaces, kinds, computed, device=str(device), seed=config.seed + 1)
    for kind, recall in recalls.items():
        plan = plans.get(kind)
        logger.info(
            "related lists %r: recall@10 %.4f [95 %% CI %.4f-%.4f] on %d sampled products (%s)",
            kind,
            recall.recall,
            recall.low,
            recall.high,
            recall.rows,
            plan,
        )
    logger.info(
        "related lists of %d products: approximate (IVF) on %s in %.1f s, lowest sampled recall@10 %.4f",
        n,
        device,
        elapsed,
        min((r.recall for r in recalls.values()), default=1.0),
    )
    return computed


def store_product_lists(version: ModelVersion, product_pk: Any) -> int:
    """A product's vectors changed (saved, or new since the version was built): store its own
    lists again, computed live from the indexes, and put it into its neighbours' lists where it
    ranks (fused similarity is symmetric). Lists that held it before keep it until the next
    training. Returns the number of lists written or changed."""
    from shopguide.filters import ProductFilters
    from shopguide.ranking import rank_related, related_search

    depth = list_depth(version)
    # In stock or not (serving filters stock), but visible only (ProductFilters always applies
    # adapter.visible): a hidden product would only take a place. (The bulk build at activation
    # stores every product; serving drops hidden ones from either.)
    everything = ProductFilters(in_stock=False)
    # One walk per space serves every kind of list: a space's own list is its walk's neighbours,
    # the fused list ranks all walks' neighbours by their weighted similarities.
    names = list(version.dimensions)
    search = related_search(version, product_pk, names, k=depth, filters=everything)
    changed = 0
    with transaction.atomic():
        for kind, weights in related_list_kinds(version).items():
            found = rank_related(search, names, weights, k=depth)
            RelatedList.objects.filter(version=version, product_id=product_pk, space=kind).delete()
            if not found:
                continue
            RelatedList.objects.create(
                version=version,
                product_id=product_pk,
                space=kind,
                product_ids=[str(pk) for pk, _, _ in found],
                scores=[score for _, score, _ in found],
                reasons=[reason_indexes()[space] for _, _, space in found],
            )
            changed += 1 + _insert_into_neighbours(version, kind, product_pk, found, depth=depth)
    return changed


def _insert_into_neighbours(version: ModelVersion, kind: str, product_pk: Any, found, *, depth: int) -> int:
    me = str(product_pk)
    reason_index = reason_indexes()
    by_neighbour = {str(pk): (score, reason_index[space]) for pk, score, space in found}
    lists = list(
        RelatedList.objects.select_for_update().filter(
            version=version, space=kind, product_id__in=[pk for pk, _, _ in found]
        )
    )
    for stored in lists:
        score, reason = by_neighbour[str(stored.product_id)]
        items = [(pk, s, r) for pk, s, r in zip(stored.product_ids, stored.scores, stored.reasons) if pk != me]
        items.append((me, score, reason))
        items.sort(key=lambda item: -item[1])
        items = items[:depth]
        stored.product_ids, stored.scores, stored.reasons = (list(column) for column in zip(*items))
    RelatedList.objects.bulk_update(lists, ["product_ids", "scores", "reasons"])
    return len(lists)


def _copy_related(version: ModelVersion, kind: str, rows) -> int:
    table = RelatedList._meta.db_table
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {table} (version_id, product_id, space, product_ids, scores, reasons) FROM STDIN"
        ) as copy:
            for product_pk, ids, scores, reasons in rows:
                copy.write_row((version.pk, product_pk, kind, ids, [float(s) for s in scores], reasons))
                count += 1
    return count


def load_space_matrices(version: ModelVersion, names: Sequence[str]) -> tuple[list[Any], dict[str, np.ndarray]]:
    """Every product with a vector in any of ``names``, and per space an (N, D) matrix aligned
    with them (zero rows where a product has no vector there)."""
    per_space = {name: read_product_vectors(version_id=version.pk, space=name) for name in names}
    product_ids = sorted({pk for ids, _ in per_space.values() for pk in ids}, key=lambda pk: (str(type(pk)), pk))
    position = {pk: i for i, pk in enumerate(product_ids)}
    matrices = {}
    for name, (ids, vectors) in per_space.items():
        matrix = np.zeros((len(product_ids), version.dimensions[name]), np.float32)
        if ids:
            matrix[[position[pk] for pk in ids]] = vectors
        matrices[name] = matrix
    return product_ids, matrices


# -- personal recommendations ----------------------------------------------------------------------


def build_shopper_lists(version: ModelVersion) -> int:
    """Compute and store every shopper's (customer's and guest's) recommendations for ``version``
    with its behaviour model. Returns the number of lists written (0 without a behaviour model)."""
    from shopguide.ml.event_types import EVENT_TYPES
    from shopguide.ml.neighbours import closest_of, top_items_for_queries
    from shopguide.snapshot import CatalogSnapshot, take_event_snapshot
    from shopguide.spaces import behaviour as behaviour_space

    if behaviour_space.NAME not in version.dimensions:
        return 0
    depth = record_list_depth(version)
    # Newest event per shopper before the snapshot: a later event makes the list stale (never
    # the other way round).
    as_of = {
        ("user", pk): newest
        for pk, newest in Interaction.objects.filter(user__isnull=False, product__isnull=False)
        .order_by()
        .values_list("user")
        .annotate(Max("pk"))
    }
    as_of.update(
        {
            ("visitor", v): newest
            for v, newest in Interaction.objects.filter(user__isnull=True, product__isnull=False)
            .order_by()
            .values_list("visitor")
            .annotate(Max("pk"))
        }
    )
    model_rows = behaviour_space.item_ids(version)
    events = take_event_snapshot(CatalogSnapshot(product_ids=model_rows))
    ShopperList.objects.filter(version=version).delete()
    if not events.sequences:
        return 0
    if behaviour_space.served_by(version) != "lstm":  # a baseline beat the LSTM on held-out data: it serves
        return _write_shopper_lists(
            version, _baseline_lists(version, events, model_rows, depth=depth), model_rows, as_of
        )
    vectors = behaviour_space.load(version).user_vectors(events.sequences, events.event_types)
    product_ids, spaces = load_space_matrices(version, [behaviour_space.NAME])
    items = spaces[behaviour_space.NAME]
    position = {pk: i for i, pk in enumerate(product_ids)}
    known = [[j for j, i in enumerate(seq) if model_rows[i] in position] for seq in events.sequences]
    histories = [
        np.array([position[model_rows[seq[j]]] for j in js], np.int64) for seq, js in zip(events.sequences, known)
    ]
    history_types = [[EVENT_TYPES[types[j]] for j in js] for types, js in zip(events.event_types, known)]
    rows, scores = top_items_for_queries(
        vectors, items, depth=depth, exclude=histories, device=shopguide_settings.DEVICE
    )
    lists = []  # (actor, item rows, scores, per item the history product explaining it and its event type)
    for actor, found, found_scores, history, types in zip(events.actors, rows, scores, histories, history_types):
        found, found_scores = found[found >= 0], found_scores[found >= 0]
        because = [("", "")] * len(found)
        if len(history) and len(found):
            because = [(str(product_ids[history[i]]), types[i]) for i in closest_of(items[found], items[history])]
        lists.append((actor, found, found_scores, because))
    return _write_shopper_lists(version, lists, product_ids, as_of)


def _baseline_lists(version: ModelVersion, events, model_rows: list[Any], *, depth: int) -> list:
    """Every shopper's list from the baseline the version serves, in the shape
    ``build_shopper_lists`` writes: (actor, item rows, scores, per item (history product, event type))."""
    from shopguide.ml.event_types import EVENT_TYPES
    from shopguide.spaces import behaviour as behaviour_space

    baseline = behaviour_space.load_baseline(version)
    lists = []
    for actor, sequence, types in zip(events.actors, events.sequences, events.event_types):
        found, scores, because = baseline.recommend(sequence, depth=depth)
        lists.append(
            (
                actor,
                found,
                scores,
                [(str(model_rows[sequence[b]]), EVENT_TYPES[types[b]]) if b >= 0 else ("", "") for b in because],
            )
        )
    return lists


def _write_shopper_lists(version: ModelVersion, lists: list, product_ids: list[Any], as_of: dict) -> int:
    titles = product_titles({pk for *_, because in lists for pk, _ in because if pk})
    table = ShopperList._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        columns = "version_id, user_id, visitor, as_of, product_ids, scores, because, reasons, updated_at"
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            from django.utils import timezone

            now = timezone.now()
            for actor, found, found_scores, because in lists:
                kind, key = actor
                copy.write_row(
                    (
                        version.pk,
                        key if kind == "user" else None,
                        key if kind == "visitor" else "",
                        as_of.get(actor),
                        [str(product_ids[i]) for i in found],
                        [float(s) for s in found_scores],
                        [pk for pk, _ in because],
                        reasons_for(because, titles),
                        now,
                    )
                )
    return len(lists)


def store_shopper_list(
    version: ModelVersion,
    *,
    user_id: Any = None,
    visitor: str | None = None,
    vector: np.ndarray,
    history: Mapping[Any, str],
    as_of: int | None,
) -> ShopperList:
    """Store one shopper's list from their vector (already computed), searched in the behaviour
    index. ``history``: their products -> their strongest event type with each; ``as_of``: their
    newest event id when it was read."""
    from shopguide.filters import ProductFilters
    from shopguide.ranking import baseline_neighbours, explained_neighbours
    from shopguide.spaces.behaviour import served_by

    depth = list_depth(version)
    if served_by(version) != "lstm":  # the baseline serving in the LSTM's place (``vector`` unused)
        found = baseline_neighbours(version, list(history), depth=depth)
    else:
        found = explained_neighbours(version, vector, list(history), k=depth, filters=ProductFilters(in_stock=False))
    because = [("", "") if pk is None else (str(pk), history[pk]) for _, pk in found]
    actor = Q(user_id=user_id) if user_id is not None else Q(visitor=visitor, user__isnull=True)
    fields = {
        "as_of": as_of,
        "product_ids": [str(n.product_id) for n, _ in found],
        "scores": [n.score for n, _ in found],
        "because": [pk for pk, _ in because],
        "reasons": reasons_for(because, product_titles({pk for pk, _ in because if pk})),
    }
    with transaction.atomic():
        ShopperList.objects.filter(actor, version=version).delete()
        return ShopperList.objects.create(version=version, user_id=user_id, visitor=visitor or "", **fields)


def reasons_for(because: list[tuple[str, str]], titles: Mapping[str, str]) -> list[str]:
    """The reason of each item from (the history product explaining it, its event type), as the
    live path words it; "" where none does (or the product is gone)."""
    from shopguide.ranking import because_reason

    return [because_reason(kind, titles[pk]) if pk in titles else "" for pk, kind in because]


def product_titles(pks: set[str], *, chunk: int = 5000) -> dict[str, str]:
    """Titles of products, by id as text (as lists store ids), read in chunks."""
    adapter = get_adapter()
    ids, titles = list(pks), {}
    for start in range(0, len(ids), chunk):
        for product in adapter.get_queryset().filter(pk__in=ids[start : start + chunk]).order_by():
            titles[str(product.pk)] = adapter.title(product)
    return titles


def newest_event_id(*, user_id: Any = None, visitor: str | None = None) -> int | None:
    """The shopper's newest event id on a product (what a stored list's ``as_of`` is compared
    with: events without a product, such as searches, change no recommendation)."""
    events = Interaction.objects.filter(product__isnull=False)
    events = (
        events.filter(user_id=user_id) if user_id is not None else events.filter(visitor=visitor, user__isnull=True)
    )
    return events.aggregate(newest=Max("pk"))["newest"]
