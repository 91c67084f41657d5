"""The event vocabulary, in one place: the types of event shopguide records, and what each means to
the models, the stored lists and the reasons. Pure Python (no Django, no torch): every layer
imports it, ``models.InteractionType`` included."""

from __future__ import annotations

VIEW, CART, PURCHASE, SEARCH, CLICK = "view", "cart", "purchase", "search", "click"

# Index = the behaviour model's event-type id. Append only: trained models refer to positions.
EVENT_TYPES = (VIEW, CART, PURCHASE, SEARCH, CLICK)

# What the admin calls each type (``models.InteractionType``'s labels, translated there).
LABELS = {VIEW: "view", CART: "add to cart", PURCHASE: "purchase", SEARCH: "search", CLICK: "click on a recommendation"}

# Default weight of each event type for learning (a purchase says more than a view).
DEFAULT_WEIGHTS = {VIEW: 1.0, CLICK: 1.0, SEARCH: 0.5, CART: 3.0, PURCHASE: 5.0}

# Strongest signal wins when a shopper met the same product several times.
EVENT_STRENGTH = {VIEW: 0, SEARCH: 0, CLICK: 1, CART: 2, PURCHASE: 3}

# "because you <verb> <title>": what the shopper did with the product that explains an item.
VERBS = {VIEW: "viewed", CLICK: "viewed", SEARCH: "searched for", CART: "added", PURCHASE: "bought"}
