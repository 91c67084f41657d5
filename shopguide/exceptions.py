"""Exceptions shared across the layers."""

from __future__ import annotations


class TrainingRefused(Exception):
    """The data cannot train a model (e.g. an empty catalogue); the message says why."""
