"""The ``strigil`` command line: one module per group of commands, each a thin layer over the
library. A command that cannot do what was asked raises :class:`~.errors.CliError`; ``main``
prints it once, as ``strigil COMMAND: message``, and returns its exit code.

Start-up time matters (``strigil analyze`` on a 45-minute file takes a fraction of a second),
so heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from strigil.cli import admin, export, files, server, tools
from strigil.cli.errors import CliError

SERVER_PACKAGES = frozenset(
    {"pyarrow", "httpx", "sqlalchemy", "alembic", "argon2", "psycopg", "pydantic",
     "pydantic_settings", "fastapi", "starlette", "uvicorn", "jwt", "scipy"}
)  # fmt: skip
"""Top-level modules that come with ``strigil[server]``, not with the ingester alone."""


def build_parser() -> argparse.ArgumentParser:
    from strigil import __version__

    parser = argparse.ArgumentParser(
        prog="strigil",
        description="Measure IASTM: strokes, force and dose from instrumented tools.",
    )
    parser.add_argument("--version", action="version", version=f"strigil {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (files, server, export, admin, tools):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The analysis is vector arithmetic on one core; OpenBLAS would start a thread per core
    # when numpy is imported (≈ 30 ms of start-up on a 2-core machine) for nothing.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = build_parser().parse_args(argv)
    from strigil.common.logs import configure

    try:
        # services tell what they do (INFO); one-shot commands only what goes wrong
        default = "INFO" if args.command in ("serve", "demo") else "WARNING"
        configure(os.environ.get("STRIGIL_LOG_LEVEL", default),
                  os.environ.get("STRIGIL_LOG_FORMAT", "text"))  # fmt: skip
    except ValueError as exc:
        print(f"strigil {args.command}: {exc}", file=sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"strigil {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_PACKAGES:
            raise
        print(
            f"strigil {args.command}: this command needs the server's packages ({exc.name} is "
            "missing); this install has the ingester only: pip install 'strigil[server]'",
            file=sys.stderr,
        )
        return 2
    return code
