"""The write side and the pipelines: recording events, importing history, training, keeping vectors
and stored lists fresh between trainings, segments, versions and privacy.

Services may import the read side (``shopguide.selectors``), ranking, spaces and the foundation
(models, conf, adapter, vectors, snapshot); they never import ``shopguide.tasks``: work for the
queues is sent by task name (see ``shopguide.receivers``)."""
