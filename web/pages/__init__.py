"""The merchant's admin pages: server-rendered HTML for signed-in users of one company.

Each module is one area (sign-in and dashboard, Settings -> Integrations, Settings ->
Products, Subscribers, Sequences, Operations) with its own blueprint; ``BLUEPRINTS``
lists them for ``storeflow.web.app``. Pages read and change data only through
``storeflow.core`` and ``storeflow.rules`` functions, like the JSON API does.
"""

from __future__ import annotations
