"""An earlier revision's module, for a migration that edits or puts back what that one defined
(its SQL text). Revision files are named for their number, not importable as modules, and
alembic loads them by path, so they are loaded here the same way."""

import importlib.util
from pathlib import Path
from types import ModuleType

VERSIONS = Path(__file__).with_name("versions")


def earlier_revision(filename: str) -> ModuleType:
    """The module of `versions/<filename>`."""
    spec = importlib.util.spec_from_file_location(
        f"cost_intel_{Path(filename).stem}", VERSIONS / filename
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
