"""Commands that run the service: ``serve`` and ``demo``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from strigil.cli.errors import CliError, check_metadata_database, settings_or_fail


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the HTTP API (settings from STRIGIL_*)")
    serve.set_defaults(func=serve_command)

    demo = sub.add_parser(
        "demo", help="the whole service with virtual tools, a demo clinic and its users"
    )
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--tools", type=int, default=2, help="virtual tools streaming")
    demo.add_argument("--seconds", type=float, default=None, help="stop after (default: Ctrl-C)")
    demo.add_argument(
        "--data-dir", default="demo-output/strigil-demo", help="emptied and filled afresh"
    )
    demo.set_defaults(func=demo_command)


SHUTDOWN_GRACE_S = 10
"""On SIGTERM, open connections get this long to finish before they are cut."""


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    from strigil.config import ConfigError
    from strigil.server import create_app

    settings = settings_or_fail()
    check_metadata_database(settings)
    _check_stores(settings)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    uvicorn.run(
        app,
        host=settings.bind_host,
        port=settings.bind_port,
        log_config=None,  # uvicorn's loggers go through strigil's handler (STRIGIL_LOG_*)
        log_level=None,
        ws_per_message_deflate=False,  # small frames: compression costs more than it saves
        # a stop does not wait for every batch already in an ingester's socket: what was not
        # acknowledged is in its spool and sent again to the next server
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or None,
    )
    return 0


def _check_stores(settings: Any) -> None:
    """Refuse to start on credentials or rights that cannot work; start anyway when InfluxDB
    is only away (writes queue on disk until it is back)."""
    import sys

    from strigil.store import check_timeseries_access
    from strigil.store.errors import StoreAccessError, StoreUnavailableError

    try:
        warnings = check_timeseries_access(settings)
    except StoreAccessError as exc:
        raise CliError(str(exc)) from None
    except StoreUnavailableError as exc:
        warnings = [
            f"{exc}: serving anyway; samples queue on disk under {settings.data_dir} until "
            "InfluxDB is back"
        ]
    for line in warnings:
        print(f"strigil serve: warning: {line}", file=sys.stderr, flush=True)


def demo_command(args: argparse.Namespace) -> int:
    import asyncio

    from strigil.demo.service import run_demo

    try:
        code = asyncio.run(
            run_demo(
                Path(args.data_dir),
                port=args.port,
                tools=args.tools,
                seconds=args.seconds,
                say=lambda line: print(line, flush=True),
            )
        )
    except KeyboardInterrupt:
        return 0
    if code:
        raise CliError(f"port {args.port} is taken: give another with --port", exit_code=code)
    return 0
