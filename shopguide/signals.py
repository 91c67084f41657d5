"""shopguide's own signals. Its receivers (of these and Django's signals) are in ``shopguide.receivers``."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once a model version serves (after training, a forced activation or a rollback), after the
# activation committed: ``sender`` is ModelVersion, ``version`` the version now active. Receivers
# run in the process that activated (a worker, or the admin's request); a receiver's error is
# logged and never undoes the activation.
version_activated = Signal()
