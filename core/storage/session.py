"""The session type, for code that passes a unit of work on but writes no SQL itself.

Web handlers take a session from ``Runtime.unit_of_work`` and hand it to functions of
``storeflow.core`` and ``storeflow.rules``; they name its type from here, so that
nothing above those layers imports SQLAlchemy.
"""

from sqlalchemy.orm import Session

__all__ = ["Session"]
