"""Embedding spaces. Each space knows how to train its model on a snapshot, save it with a
version, load it back, and embed products (for the catalogue fan-out and for one new product)."""
