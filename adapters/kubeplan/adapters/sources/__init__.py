"""Pollers of the external sources an operator declares (``OperatorConfig.with_source``).

``poller.Poller`` is the loop every source shares (interval with jitter, backoff on
failure, the change handed to the runtime); ``http`` fetches an ``HttpSource`` with
conditional GETs, ``s3`` lists an ``ObjectStoreSource`` (the ``s3`` extra), ``build``
makes the poller of each declared source.
"""
