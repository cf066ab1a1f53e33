"""Search automation: what to search, when, and the journal every search path shares.

Modules, from pure to I/O:

- :mod:`qbarr.search.model`    WantedItem, RequestItem, PlannedSearch, Usage, Plan, item keys
- :mod:`qbarr.search.settings` SearchSettings from ``[[Search]]`` (its cross-field checks are
  in :mod:`qbarr.configchecks`)
- :mod:`qbarr.search.planner`  ``plan(wanted, requests, running, history, now, settings, usage)``
- :mod:`qbarr.search.wanted`   Arr records -> WantedItem; the paged wanted/missing|cutoff crawl
- :mod:`qbarr.search.sources`  Overseerr / Ombi clients -> RequestItem
- :mod:`qbarr.search.recorder` the ``searches`` journal and ``search_cooldowns``; for the
  managers: ``may_search(db, instance, keys, now, settings)`` and ``record_search(...)``
- :mod:`qbarr.search.status`   ``search_status(db, instance)``, ``search_history(db, key_or_hash)``
- :mod:`qbarr.search.runner`   one instance's loop step (the program is ``qbarr-search``)

See docs/search.md for the behaviour users see.
"""
