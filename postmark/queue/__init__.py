"""The worker's side of queued sending.

``envelope``: what a ``QueuedBatch`` row keeps about each message, and the message rebuilt from it.
``worker``: claim a batch, send it, record the outcome. ``recovery``: settle abandoned batches.
``tasks_api``: Django's Tasks framework, or its backport. The task itself is
``postmark.tasks.send_queued_batch``.
"""
