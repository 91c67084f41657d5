"""Writing the lists that serving reads in one row: each product's related products (fused and
per space) and each shopper's personal recommendations.

``build_related_lists`` and ``build_shopper_lists`` compute them when a version is built, before it
is activated: exactly (every product against every product, in torch), or for the related lists of
a large catalogue on a CPU approximately, in IVF cells, with their recall measured. Between
trainings they follow the catalogue and the shoppers: a re-embedded product gets its own lists
again, enters the lists where it now ranks and is moved or dropped in those that held it
(``store_product_lists``), and a shopper's event stores a new list from the light queue
(``store_shopper_list``). A stored list never goes stale unseen: a related list that lost an entry
it could not place again stores its bound and is served live when more of it is needed; a
shopper's list names the newest event it was computed from, and serving computes live when there
is a newer one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import connection, transaction
from django.db.models import F, Func, Max, Q

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.models import Interaction, ModelVersion, RelatedList, ShopperList
from shopguide.spaces import space_names
from shopguide.vectors import read_product_vectors, similarities_to

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
    lists again, computed live from the indexes, and correct its entry in every other list it
    belongs in or belonged in (``_place_in_lists``). Returns the number of lists written or changed."""
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
    kinds = related_list_kinds(version)
    reason_index = reason_indexes()
    changed = 0
    with transaction.atomic():
        for kind, weights in kinds.items():
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
                reasons=[reason_index[space] for _, _, space in found],
            )
            changed += 1
        scored = {kind: _fused(search.similarities, names, weights) for kind, weights in kinds.items()}
        changed += _place_in_lists(version, kinds, product_pk, scored, depth=depth)
    return changed


Entry = tuple[float, int]  # a product's fused score against a list's owner, and its reason index


def _fused(similarities: Mapping[Any, Mapping[Any, float]], names: Sequence[str], weights: Mapping[str, float]):
    """{product: (fused score, reason index)} from per-space similarities (keyed by space name, or
    by position in ``names``), over the spaces of ``weights`` the product has a vector in."""
    reason_index = reason_indexes()
    out: dict[Any, Entry] = {}
    for pk, by_space in similarities.items():
        contributions = {
            name: weights[name] * value
            for name, value in sorted((names[s] if isinstance(s, int) else s, v) for s, v in by_space.items())
            if name in weights
        }
        if contributions:
            out[pk] = (sum(contributions.values()), reason_index[max(contributions, key=contributions.__getitem__)])
    return out


def _place_in_lists(
    version: ModelVersion,
    kinds: dict[str, dict[str, float]],
    product_pk: Any,
    scored: dict[str, dict[Any, Entry]],
    *,
    depth: int,
) -> int:
    """Put the re-embedded product ``product_pk`` where it now ranks in the other products' lists.

    Fused similarity is symmetric, so its new score against a list's owner is its score in the
    owner's list. ``scored`` holds it for every product its live search found (per kind): the
    lists of those it now reaches enter it. Every list that held it before (found through the
    index on list membership) moves or drops it; the owners the search did not find are scored
    in one statement for them all.

    A list keeps to what it can prove: its entries are the exact best of the catalogue, best
    first, and every product it does not hold scores at most its bound (``list_bound``). The
    product enters (or stays, at its new place) where its new score reaches that bound; where it
    held a place and no longer reaches it, it is dropped and the list, now shorter than the depth,
    stores the bound: its entries are still the exact best, but something it does not hold may
    rank next, so serving searches live when it needs more of it (``StoredRelated.complete``)
    until the next training. No list is searched again here.

    A list whose owner the search did not find and that did not hold the product misses it
    where it would now rank (the search finds several times the depth per space, so that is
    rare) until the next training. Returns the number of lists changed."""
    me = str(product_pk)
    found = {pk for entries in scored.values() for pk in entries}
    reached = []  # read without a lock; each is checked again under its lock below
    for pk, owner, kind, length, scores in (
        RelatedList.objects.filter(version=version, space__in=list(kinds), product_id__in=list(found))
        .exclude(product_id=product_pk)
        .annotate(length=Func(F("product_ids"), function="cardinality"))
        .values_list("pk", "product_id", "space", "length", "scores")
    ):
        entry = scored[kind].get(owner)
        bound = list_bound(length, scores, depth=depth)
        if entry is not None and (bound is None or entry[0] >= bound):
            reached.append(pk)
    # Locked in one order (by id), as every writer of lists between trainings locks them.
    lists = list(
        (lists_holding(version, me, kinds=list(kinds)) | RelatedList.objects.filter(pk__in=reached))
        .select_for_update()
        .order_by("pk")
    )
    unscored = {row.product_id for row in lists if row.product_id not in scored[row.space]}
    if unscored:
        similarities = similarities_to(version_id=version.pk, product_id=product_pk, other_ids=list(unscored))
        for kind, weights in kinds.items():
            scored[kind] = {**_fused(similarities, [], weights), **scored[kind]}
    changed = []
    for stored in lists:
        entry = scored[stored.space].get(stored.product_id)
        placed = place_entry(
            list(zip(stored.product_ids, stored.scores, stored.reasons)),
            list_bound(len(stored.product_ids), stored.scores, depth=depth),
            (me, *entry) if entry is not None else None,
            me=me,
            depth=depth,
        )
        if placed is None:
            continue
        items, bound = placed
        stored.product_ids = [pk for pk, _, _ in items]
        stored.scores = [float(score) for _, score, _ in items] + ([bound] if bound is not None else [])
        stored.reasons = [reason for _, _, reason in items]
        changed.append(stored)
    # One statement per list, sent in one batch (psycopg's pipeline): bulk_update's CASE per row
    # costs more in Python than the database spends on the rows.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {RelatedList._meta.db_table} SET product_ids = %s, scores = %s, reasons = %s WHERE id = %s",
            [(row.product_ids, row.scores, row.reasons, row.pk) for row in changed],
        )
    return len(changed)


def lists_holding(version: ModelVersion, product_id: str, *, kinds: Sequence[str]):
    """The lists of ``version`` (of ``kinds``) that hold ``product_id`` (as lists store ids), but
    its own: a lookup in the GIN index on RelatedList.product_ids (a scan of the version's lists
    while the index is missing)."""
    return RelatedList.objects.filter(
        version=version, space__in=list(kinds), product_ids__contains=[product_id]
    ).exclude(product_id=product_id)


def list_bound(length: int, scores: Sequence[float], *, depth: int) -> float | None:
    """The most any product a stored list of ``length`` items does not hold can score against
    its owner: the bound it stores (``scores`` one longer than its items) when an entry was
    dropped from it, else its last score when it is full; None when it is shorter than the depth
    and stores no bound (it holds every candidate there was)."""
    if len(scores) > length:
        return float(scores[length])
    if length and length >= depth:
        return float(scores[length - 1])
    return None


def place_entry(
    items: list[tuple[str, float, int]],
    bound: float | None,
    entry: tuple[str, float, int] | None,
    *,
    me: str,
    depth: int,
) -> tuple[list[tuple[str, float, int]], float | None] | None:
    """A list's (id, score, reason) items, best first, with product ``me``'s item replaced by
    ``entry`` (its new score; None when it is no candidate any more), and the list's bound after
    (``list_bound``): ``(items, the bound to store or None)``; None when the list does not change.

    The entry goes in when its score reaches the bound (or the list has none: it holds every
    candidate); otherwise it cannot be placed without knowing what the list does not hold, so it
    is left out, and the bound is kept for the reader."""
    held = any(pk == me for pk, _, _ in items)
    rest = [item for item in items if item[0] != me]
    if entry is not None and (bound is None or entry[1] >= bound):
        rest.append(entry)
        rest.sort(key=lambda item: (-item[1], item[0]))
        rest = rest[:depth]  # a full list: the entry took a place and its last item goes
        return rest, (bound if len(rest) < depth else None)
    if not held:
        return None
    return rest, bound


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
