"""Search automation: what to search and when.

Modules, from pure to I/O:

- :mod:`qbarr.search.model`    WantedItem, RequestItem, PlannedSearch, Usage, Plan, item keys
- :mod:`qbarr.search.settings` SearchSettings from ``[[Search]]`` (its cross-field checks are
  in :mod:`qbarr.configchecks`)
- :mod:`qbarr.search.planner`  ``plan(wanted, requests, running, history, now, settings, usage)``
- :mod:`qbarr.search.wanted`   Arr records -> WantedItem; the paged wanted/missing|cutoff crawl
- :mod:`qbarr.search.sources`  Overseerr / Ombi clients -> RequestItem
- :mod:`qbarr.search.status`   ``row_name(instance)`` (its heartbeat row), ``search_history(...)``
- :mod:`qbarr.search.runner`   one instance's loop step (the program is ``qbarr-search``)

The journal every search path shares (the ``searches`` and ``search_cooldowns`` tables, also
written by the managers' re-searches: ``may_search``, ``record_search``) is store code, next
to the decision journal: :mod:`qbarr.searchlog`.

See docs/search.md for the behaviour users see.
"""
