"""Model versions: which one serves, activation, rollback and pruning.

Serving reads the active version's id once per request and then only that version's vectors, so a
reader never mixes two versions. Activation flips one flag in one transaction; the version's
indexes exist before it flips, so no reader meets a missing index.
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from shopguide.conf import shopguide_settings
from shopguide.models import ModelVersion
from shopguide.selectors.versions import active_version
from shopguide.vectors import drop_hnsw_indexes

logger = logging.getLogger(__name__)


class ActivationError(Exception):
    """The version cannot be activated (not ready, or worse than the active one)."""


def activate_version(*, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one that serves. Raises ActivationError when it is not ready."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != ModelVersion.Status.READY:
            raise ActivationError(f"{version} is {version.status}, not ready")
        ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        version.is_active = True
        version.activated_at = timezone.now()
        version.save(update_fields=["is_active", "activated_at"])
        transaction.on_commit(lambda: _announce(version))
    logger.info("Activated model version %s", version.pk)
    return version


def _announce(version: ModelVersion) -> None:
    from shopguide.signals import version_activated

    for receiver, result in version_activated.send_robust(sender=ModelVersion, version=version):
        if isinstance(result, Exception):
            logger.error(
                "A version_activated receiver (%s) failed for %s: %r",
                receiver,
                version,
                result,
                exc_info=(type(result), result, result.__traceback__),
            )


def rollback() -> ModelVersion:
    """Re-activate the ready version activated before the current one."""
    current = active_version()
    previous = (
        ModelVersion.objects.filter(status=ModelVersion.Status.READY, activated_at__isnull=False)
        .exclude(pk=getattr(current, "pk", None))
        .order_by("-activated_at")
        .first()
    )
    if previous is None:
        raise ActivationError("There is no earlier version to roll back to.")
    return activate_version(version=previous)


def delete_version(version: ModelVersion) -> None:
    """Remove a version that does not serve: vectors, indexes and artifact files."""
    if version.is_active:
        raise ActivationError("The active version cannot be deleted; activate another one first.")
    drop_hnsw_indexes(version.pk)
    for path in (version.artifacts or {}).values():
        if default_storage.exists(path):
            default_storage.delete(path)
    version.delete()


def prune_versions(*, keep: int | None = None) -> int:
    """Delete ready versions beyond the newest ``keep`` (the active one is always kept) and
    failed ones. Returns how many were deleted."""
    keep = shopguide_settings.KEEP_VERSIONS if keep is None else keep
    ready = list(ModelVersion.objects.filter(status=ModelVersion.Status.READY).order_by("-created_at"))
    doomed = [v for v in ready[keep:] if not v.is_active]
    doomed += list(ModelVersion.objects.filter(status=ModelVersion.Status.FAILED))
    for version in doomed:
        delete_version(version)
    return len(doomed)
