"""Model checkpoints in Django's default storage, one folder per version."""

from __future__ import annotations

import functools
import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from shopguide.conf import shopguide_settings
from shopguide.models import ModelVersion


def save_artifact(version: ModelVersion, space: str, model) -> str:
    """Save ``model`` (anything with ``save(file)``) as this version's checkpoint for ``space``."""
    buffer = io.BytesIO()
    model.save(buffer)
    path = f"{shopguide_settings.STORAGE_PREFIX.rstrip('/')}/v{version.pk}/{space}.pt"
    if default_storage.exists(path):  # a re-run of the same version replaces its file
        default_storage.delete(path)
    stored = default_storage.save(path, ContentFile(buffer.getvalue()))
    version.refresh_from_db(fields=["artifacts"])
    version.artifacts = {**version.artifacts, space: stored}
    ModelVersion.objects.filter(pk=version.pk).update(artifacts=version.artifacts)
    return stored


def save_json_artifact(version: ModelVersion, name: str, data) -> str:
    """Save JSON beside the checkpoints (e.g. which product each model row stands for)."""
    import json

    path = f"{shopguide_settings.STORAGE_PREFIX.rstrip('/')}/v{version.pk}/{name}.json"
    if default_storage.exists(path):
        default_storage.delete(path)
    stored = default_storage.save(path, ContentFile(json.dumps(data, default=str).encode()))
    version.refresh_from_db(fields=["artifacts"])
    version.artifacts = {**version.artifacts, name: stored}
    ModelVersion.objects.filter(pk=version.pk).update(artifacts=version.artifacts)
    return stored


@functools.lru_cache(maxsize=8)
def load_json_artifact(path: str):
    import json

    with default_storage.open(path, "rb") as handle:
        return json.loads(handle.read())


@functools.lru_cache(maxsize=8)
def load_artifact(path: str, model_class_path: str, device: str):
    """Load a checkpoint with ``<model class>.load`` once per process (versions never change, so
    caching by path is safe)."""
    from django.utils.module_loading import import_string

    model_class = import_string(model_class_path)
    with default_storage.open(path, "rb") as handle:
        return model_class.load(io.BytesIO(handle.read()), device=device)


def use_query_threads() -> None:
    """Web processes embed one query per request: SHOPGUIDE["QUERY_THREADS"] torch threads (one
    short input is fastest on one thread, and requests then do not fight over the cores)."""
    threads = shopguide_settings.QUERY_THREADS
    if threads:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
