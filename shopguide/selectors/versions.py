"""Which model version serves: read by serving and by the pipelines alike."""

from __future__ import annotations

from shopguide.models import ModelVersion


def active_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()
