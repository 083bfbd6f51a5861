"""The edge installs small: importing the ingester, its forwarder and the virtual tool loads
nothing of the server. Checked in a fresh interpreter, on what is really loaded (the import
contract in pyproject.toml checks the import statements; this checks the result)."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_PACKAGES = {"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "pyarrow"}
EDGE_MODULES = (
    "strigil.ingest.ingester",
    "strigil.ingest.forwarder",
    "strigil.ingest.virtual_tool",
    "strigil.ingest.runtime",
)


def _loaded_after(*modules: str) -> set[str]:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(json.loads(out))


def test_the_ingester_and_virtual_tool_load_no_server_package() -> None:
    loaded = _loaded_after(*EDGE_MODULES)
    assert {m.split(".")[0] for m in loaded} & SERVER_PACKAGES == set()
    assert not {m for m in loaded if m.startswith(("strigil.api", "strigil.store"))}
    assert "bleak" in loaded  # the check sees what the edge does load


def test_the_server_does_load_them() -> None:
    # the same check on the server's composition root finds the packages it must not miss
    loaded = _loaded_after("strigil.server")
    assert {m.split(".")[0] for m in loaded} >= {"fastapi", "starlette", "sqlalchemy"}
