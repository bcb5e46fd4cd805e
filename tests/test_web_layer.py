"""Web handlers hold no SQL: every query is a named function of storeflow.core or storeflow.rules.

Read from the source (``ast``), so that a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"

# Modules that build or run statements: web/ calls the functions that use them instead.
FORBIDDEN = ("sqlalchemy", "storeflow.core.storage.paging", "storeflow.core.storage.upsert")
# Error handling, not SQL: a database that is down or locked is answered with a 503.
ALLOWED = {"errors.py": {"sqlalchemy.exc"}, "commands/infrastructure.py": {"sqlalchemy.exc"}}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def forbidden(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN)


def test_web_modules_import_no_sql():
    sources = sorted(WEB.rglob("*.py"))
    assert len(sources) > 20 and WEB / "commands" / "processes.py" in sources
    offending = {}
    for path in sources:
        relative = path.relative_to(WEB).as_posix()
        allowed = ALLOWED.get(relative, set())
        names = {
            name
            for name in imported_modules(path)
            if forbidden(name) and not any(name.startswith(ok) for ok in allowed)
        }
        if names:
            offending[relative] = sorted(names)
    assert offending == {}


def test_the_check_sees_imports_in_functions(tmp_path):
    module = tmp_path / "handler.py"
    module.write_text("def view():\n    from sqlalchemy import select\n    return select\n")
    assert any(forbidden(name) for name in imported_modules(module))
