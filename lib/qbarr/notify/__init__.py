"""Notifications: what happened, read from the database, batched, sent by the notify program.

The managers and the watchdog already write everything worth telling into qbarr.db (the
decision journal, the instances' heartbeats and brakes, the watchdog's crash records); the
``notify`` program (``programs/notify.py``, rendered only when ``[Notifications] URLs`` is set)
reads them and sends with Apprise. Nothing here imports Apprise: only that program does, so
no manager ever loads it.

- :mod:`~qbarr.notify.events`: the new events since a cursor kept in the ``kv`` table;
- :mod:`~qbarr.notify.compose`: a batch of events -> one message (pure);
- :mod:`~qbarr.notify.outbox`: per URL, the rate limit and the bounded retries (pure).
"""
