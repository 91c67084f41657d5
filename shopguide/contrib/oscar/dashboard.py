"""The entry for Oscar's dashboard menu. Importable from settings (no models are loaded); in the
host's settings::

    from shopguide.contrib.oscar.dashboard import DASHBOARD_NAVIGATION as SHOPGUIDE_NAVIGATION
    OSCAR_DASHBOARD_NAVIGATION += [SHOPGUIDE_NAVIGATION]
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

RETRAIN_PERMISSION = "shopguide.retrain"


def can_see_training(user, url_name, url_args=None, url_kwargs=None) -> bool:
    """Oscar's menu access function: staff see shopguide's pages (retraining itself also needs
    the ``shopguide.retrain`` permission). Oscar's default one only knows Oscar's own views."""
    return bool(user.is_active and user.is_staff)


DASHBOARD_NAVIGATION = {
    "label": _("Recommendations"),
    "icon": "fas fa-magic",
    "access_fn": can_see_training,
    "children": [
        {"label": _("Training and versions"), "url_name": "shopguide_oscar:training", "access_fn": can_see_training},
    ],
}
