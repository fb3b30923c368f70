"""``flowcentre bench``: the product's speed and memory targets, measured on the real parts.

Every figure comes from the processes a deployment runs (``flowcentre worker``,
``flowcentre api``) on a real broker and Redis, in one run, each measurement on topics and
a Redis prefix of its own. One module a measurement: ``throughput``, ``freshness``,
``fanout``, ``replay``, ``memory`` and ``ui`` (the board in Chromium, launched as
``chromium`` says); ``run`` orders them and ``report`` prints the
table and writes the JSON.
"""
