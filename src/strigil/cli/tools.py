"""Commands next to the tools: ``virtual-tool``, ``ingest``, ``scan`` and ``check-tool``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from strigil.cli.errors import CliError, check_rate

DEFAULT_SPOOL = Path.home() / ".local/share/strigil/forward-spool"


def _tool_behaviour(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--minutes", type=float, default=45.0, help="simulated session, min")
    cmd.add_argument("--seed", type=int, default=1, help="seed of the simulated sessions")
    cmd.add_argument("--scenario", default="mixed", help="simulator scenario")
    cmd.add_argument(
        "--drop-every", type=int, default=0, metavar="N", help="test: skip every N-th frame"
    )
    cmd.add_argument(
        "--malformed-every",
        type=int,
        default=0,
        metavar="N",
        help="test: send every N-th frame malformed",
    )
    cmd.add_argument(
        "--full-frames",
        action="store_true",
        help="test: pack every frame full, as older tools do (ignores the 20-ms frame timing)",
    )
    cmd.add_argument(
        "--drift-ppm",
        type=float,
        default=0.0,
        help="test: device clock error against the host, ppm",
    )
    cmd.add_argument(
        "--reboot-after-s",
        type=float,
        default=None,
        help="test: the tool reboots (clock and seq restart) after this many seconds",
    )
    cmd.add_argument(
        "--wild-frame-at-s",
        type=float,
        default=None,
        help="test: one frame with a wild device time (2**32-1 µs) at this point",
    )


def register(sub: Any) -> None:
    vt = sub.add_parser(
        "virtual-tool",
        help="run virtual tools (bumble GATT peripherals) reachable through an HCI transport",
    )
    vt.add_argument(
        "--hci",
        required=True,
        help="bumble transport for the ingester's side, e.g. tcp-server:127.0.0.1:9100",
    )
    vt.add_argument("--count", type=int, default=1, help="how many tools")
    _tool_behaviour(vt)
    vt.set_defaults(func=virtual_tool_command)

    ing = sub.add_parser(
        "ingest", help="stream tools over BLE to the API (store-and-forward) or into a CSV file"
    )
    where = ing.add_mutually_exclusive_group()
    where.add_argument(
        "--adapter",
        help="without --hci or --virtual the computer's own Bluetooth is used (BlueZ, "
        "CoreBluetooth or WinRT); on Linux, this adapter (e.g. hci1) instead of the default",
    )
    where.add_argument(
        "--hci",
        help="bumble transport to a controller, e.g. "
        "tcp-client:127.0.0.1:9100 (a `strigil virtual-tool`) or usb:0",
    )
    where.add_argument(
        "--virtual",
        type=int,
        metavar="N",
        help="start N virtual tools in this process (demo, tests)",
    )
    ing.add_argument(
        "--output", help="CSV file; several tools get FILE-SERIAL.csv or a {serial} in the name"
    )
    ing.add_argument(
        "--api",
        help="API base URL, e.g. http://127.0.0.1:8000; the token is read from "
        "STRIGIL_INGEST_TOKEN",
    )
    ing.add_argument(
        "--token-file",
        help="read the API token from this file instead of STRIGIL_INGEST_TOKEN (a systemd "
        "credential, a file only the service can read)",
    )
    ing.add_argument(
        "--spool",
        default=str(DEFAULT_SPOOL),
        help="folder where frames wait for the API's acknowledgement (survives restarts)",
    )
    ing.add_argument("--spool-max-mb", type=float, default=256.0, help="spool limit, MiB")
    ing.add_argument(
        "--status-every",
        type=float,
        default=10.0,
        help="without a terminal (journald, Docker): a status line every this many s (0: none)",
    )
    ing.add_argument(
        "--duration-s", type=float, default=None, help="stop after this many s (default: Ctrl-C)"
    )
    ing.add_argument("--rate-hz", type=int, default=200, help="stream rate to command, Hz")
    ing.add_argument("--tare", action="store_true", help="tare each tool before streaming")
    ing.add_argument("--name", action="append", help="only tools with this name (repeatable)")
    _tool_behaviour(ing)
    ing.set_defaults(func=ingest_command)

    scan = sub.add_parser(
        "scan",
        help="list the IASTM tools in range: name, address, signal, and (after a short "
        "connection) serial, model, firmware and battery",
    )
    on = scan.add_mutually_exclusive_group()
    on.add_argument("--adapter", help="Linux: this adapter (e.g. hci1) instead of the default")
    on.add_argument("--hci", help="bumble transport, as for `strigil ingest --hci`")
    on.add_argument("--virtual", type=int, metavar="N", help="N virtual tools (demo, tests)")
    scan.add_argument("--seconds", type=float, default=5.0, help="how long to listen, s")
    scan.add_argument(
        "--no-connect", action="store_true", help="only listen; do not connect to read the tools"
    )
    scan.add_argument("--json", action="store_true", help="one JSON object per tool instead")
    _tool_behaviour(scan)
    scan.set_defaults(func=scan_command)

    check = sub.add_parser(
        "check-tool",
        help="check a tool against the BLE profile (for firmware authors): services, config, "
        "commands, streaming at 50/200/1000 Hz, tare, clock drift; a pass/fail table",
    )
    check.add_argument(
        "address", nargs="?", help="the tool's address (default: the only tool in range)"
    )
    on = check.add_mutually_exclusive_group()
    on.add_argument("--adapter", help="Linux: this adapter (e.g. hci1) instead of the default")
    on.add_argument("--hci", help="bumble transport, as for `strigil ingest --hci`")
    on.add_argument("--virtual", type=int, metavar="N", help="N virtual tools (demo, tests)")
    check.add_argument(
        "--seconds-per-rate", type=float, default=4.0, help="streaming time at each rate, s"
    )
    _tool_behaviour(check)
    check.set_defaults(func=check_tool_command)


def _tool_options(args: argparse.Namespace) -> Any:
    from strigil.ingest.virtual_tool import VirtualToolOptions

    return VirtualToolOptions(
        minutes=args.minutes,
        seed=args.seed,
        scenario=args.scenario,
        drop_every_n_frames=args.drop_every,
        malformed_every_n_frames=args.malformed_every,
        clock_drift_ppm=args.drift_ppm,
        full_frames=args.full_frames,
        reboot_after_s=args.reboot_after_s,
        wild_frame_at_s=args.wild_frame_at_s,
    )


def virtual_tool_command(args: argparse.Namespace) -> int:
    import asyncio

    from strigil.ingest.runtime import serve_virtual_tools

    print(
        f"strigil virtual-tool: {args.count} tool(s) VT-0001… reachable through {args.hci} "
        "(Ctrl-C to stop)",
        file=sys.stderr,
    )
    try:
        asyncio.run(serve_virtual_tools(args.hci, args.count, _tool_options(args)))
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot open {args.hci}: {exc}") from None
    return 0


def ingest_command(args: argparse.Namespace) -> int:
    """``strigil ingest``, holding its spool and its HCI transport for itself."""
    import contextlib

    from strigil.common.locks import LockedError, exclusive

    with contextlib.ExitStack() as locks:
        try:
            if args.api is not None:
                locks.enter_context(
                    exclusive(Path(args.spool) / ".lock", f"the spool {args.spool}")
                )
            if args.hci:
                locks.enter_context(
                    exclusive(_hci_lock_path(args.hci), f"the Bluetooth transport {args.hci}")
                )
        except LockedError as exc:
            raise CliError(str(exc)) from None
        return _ingest(args)


def _token(args: argparse.Namespace) -> str:
    """The ingest token: from --token-file, else STRIGIL_INGEST_TOKEN."""
    import os

    if args.token_file is None:
        return os.environ.get("STRIGIL_INGEST_TOKEN", "")
    try:
        return Path(args.token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CliError(
            f"--token-file {args.token_file}: {exc.strerror or exc}; give a file holding a "
            "token from `strigil admin create-token`"
        ) from None


def _hci_lock_path(transport: str) -> Path:
    """One lock file per HCI transport name on this machine."""
    import re
    import tempfile

    name = re.sub(r"[^A-Za-z0-9._-]", "_", transport)
    return Path(tempfile.gettempdir()) / f"strigil-hci-{name}.lock"


def _ingest(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib

    from tqdm import tqdm

    from strigil.ingest.errors import BluetoothUnavailableError, TokenRefusedError
    from strigil.ingest.forwarder import ApiForwarder
    from strigil.ingest.ingester import CsvSink, Ingester
    from strigil.ingest.platform import explain
    from strigil.ingest.runtime import output_paths, running_ingester

    if args.output is None and args.api is None:
        raise CliError(
            "say where the frames go: --api URL (with STRIGIL_INGEST_TOKEN set "
            "to a token from `strigil admin create-token`) or --output FILE.csv"
        )
    forwarder: ApiForwarder | None = None
    if args.api is not None:
        try:
            forwarder = ApiForwarder(
                args.api,
                _token(args),
                args.spool,
                spool_max_bytes=int(args.spool_max_mb * 2**20),
            )
        except ValueError as exc:
            hint = (
                "; set STRIGIL_INGEST_TOKEN to a token from `strigil admin create-token`"
                if "token" in str(exc)
                else ""
            )
            raise CliError(f"{exc}{hint}") from None
    check_rate(args.rate_hz)

    async def run() -> Ingester:
        if forwarder is not None:
            await forwarder.check_token()  # a refused token stops us before any tool connects
        async with contextlib.AsyncExitStack() as stack:
            scan_kw, client_kw = await _backend(args, stack)
            ingester = Ingester(
                CsvSink(output_paths(args.output)) if args.output else None,
                frame_sink=forwarder,
                scanner_kwargs=scan_kw,
                client_kwargs=client_kw,
                names=set(args.name) if args.name else None,
                rate_hz=args.rate_hz,
                tare=args.tare,
            )
            seconds = int(args.duration_s) if args.duration_s is not None else None
            where = f"forwarding to {args.api}, spool {args.spool}" if forwarder else ""
            where += (" and " if where else "") + (f"writing {args.output}" if args.output else "")
            transport = args.hci or (
                f"{args.virtual} virtual tool(s)"
                if args.virtual
                else "this computer's Bluetooth" + (f" ({args.adapter})" if args.adapter else "")
            )
            _status(f"scanning for IASTM tools on {transport}; {where}")
            async with running_ingester(ingester, forwarder, drain_s=5.0):
                with tqdm(total=seconds, unit="s", desc="ingesting", disable=None) as bar:
                    elapsed = 0
                    every = max(round(args.status_every), 0) if bar.disable else 0
                    while seconds is None or elapsed < seconds:  # bar.n stays 0 if disabled
                        if forwarder is not None and forwarder.token_refused is not None:
                            break  # revoked while running: stop, the spool keeps the rest
                        await asyncio.sleep(1.0)
                        elapsed += 1
                        progress = _progress(ingester, forwarder)
                        bar.set_postfix(progress)
                        bar.update(1)
                        if every and elapsed % every == 0:
                            _status(_status_line(ingester, forwarder, progress))
            return ingester

    try:
        ingester = asyncio.run(run())
    except (TokenRefusedError, BluetoothUnavailableError) as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        unavailable = None if args.hci or args.virtual else explain(exc)
        if unavailable is not None:
            raise CliError(str(unavailable)) from None
        if isinstance(exc, OSError | ValueError):
            raise CliError(f"cannot open {args.hci or 'Bluetooth'}: {exc}") from None
        raise
    if forwarder is not None and forwarder.token_refused is not None:
        raise CliError(str(forwarder.token_refused))
    if not ingester.links:
        raise CliError("no tool advertising the IASTM service was found", exit_code=1)
    _report(ingester, forwarder)
    return 0


async def _backend(args: argparse.Namespace, stack: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scanner's and the client's bleak arguments for the backend the flags choose: a
    bumble transport (--hci), in-process virtual tools (--virtual) or, by default, the
    computer's own Bluetooth (--adapter on Linux)."""
    from strigil.ingest.platform import check_bluez_version, platform_kwargs
    from strigil.ingest.runtime import bleak_kwargs, central_over_transport, virtual_central

    if args.hci:
        return bleak_kwargs(await stack.enter_async_context(central_over_transport(args.hci)))
    if args.virtual:
        return bleak_kwargs(await virtual_central(args.virtual, _tool_options(args)))
    await check_bluez_version()
    return platform_kwargs(args.adapter)


def check_tool_command(args: argparse.Namespace) -> int:
    """``strigil check-tool``: exit 0 when every check passes, 1 when one fails."""
    import asyncio
    import contextlib

    from tqdm import tqdm

    from strigil.ingest.conformance import RATES_HZ, check_tool
    from strigil.ingest.errors import BluetoothUnavailableError
    from strigil.ingest.platform import explain
    from strigil.ingest.scan import scan_tools

    if args.seconds_per_rate < 1.0:
        raise CliError("--seconds-per-rate: give at least 1 s (the rate check needs it)")

    async def run() -> list[Any]:
        async with contextlib.AsyncExitStack() as stack:
            scan_kw, client_kw = await _backend(args, stack)
            found = await scan_tools(5.0, scanner_kwargs=scan_kw, identify=False)
            if args.address is not None:
                found = [s for s in found if s.address.lower() == args.address.lower()]
                if not found:
                    raise CliError(f"no IASTM tool at {args.address} answered within 5 s")
            elif len(found) != 1:
                listed = ", ".join(f"{s.name or '?'} {s.address}" for s in found)
                raise CliError(
                    "no IASTM tool in range: switch it on and bring it near"
                    if not found
                    else f"{len(found)} tools in range ({listed}): name one by its address"
                )
            steps = 5 + len(RATES_HZ)
            with tqdm(total=steps, desc="checking", unit="step", disable=None) as bar:

                def on_step(name: str) -> None:
                    bar.set_postfix_str(name)
                    bar.update(1)

                return await check_tool(
                    found[0].address,
                    client_kwargs=client_kw,
                    seconds_per_rate=args.seconds_per_rate,
                    on_step=on_step,
                )

    try:
        checks = asyncio.run(run())
    except BluetoothUnavailableError as exc:
        raise CliError(str(exc)) from None
    except CliError:
        raise
    except Exception as exc:
        unavailable = None if args.hci or args.virtual else explain(exc)
        if unavailable is None:
            raise
        raise CliError(str(unavailable)) from None
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{'PASS' if c.passed else 'FAIL'}  {c.name.ljust(width)}  {c.evidence}")
    failed = [c for c in checks if not c.passed]
    print(
        f"\n{len(checks) - len(failed)} of {len(checks)} checks passed"
        + (f"; failed: {', '.join(c.name for c in failed)}" if failed else ""),
    )
    return 1 if failed else 0


def scan_command(args: argparse.Namespace) -> int:
    """``strigil scan``: a table of the tools in range (exit 1 when none is)."""
    import asyncio
    import contextlib
    import dataclasses
    import json

    from strigil.ingest.errors import BluetoothUnavailableError
    from strigil.ingest.platform import explain
    from strigil.ingest.scan import scan_tools

    if args.seconds <= 0:
        raise CliError(f"--seconds {args.seconds}: give a positive number of seconds")

    async def run() -> list[Any]:
        async with contextlib.AsyncExitStack() as stack:
            scan_kw, client_kw = await _backend(args, stack)
            return await scan_tools(
                args.seconds,
                scanner_kwargs=scan_kw,
                client_kwargs=client_kw,
                identify=not args.no_connect,
            )

    try:
        found = asyncio.run(run())
    except BluetoothUnavailableError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        unavailable = None if args.hci or args.virtual else explain(exc)
        if unavailable is None:
            raise
        raise CliError(str(unavailable)) from None
    if args.json:
        for s in found:
            print(json.dumps(dataclasses.asdict(s)))
    else:
        print(_scan_table(found))
    if not found:
        print(
            f"strigil scan: no IASTM tool answered within {args.seconds:g} s: is it switched "
            "on and near? (another computer connected to it hides it)",
            file=sys.stderr,
        )
        return 1
    return 0


def _scan_table(found: list[Any]) -> str:
    head = ("name", "address", "signal", "serial", "model", "firmware", "battery", "note")
    rows = [
        (
            s.name or "(no name yet)",
            s.address,
            f"{s.rssi_dbm} dBm" if s.rssi_dbm is not None else "",
            s.serial or "",
            s.model or "",
            s.firmware or "",
            f"{s.battery_percent} %" if s.battery_percent is not None else "",
            s.problem or "",
        )
        for s in found
    ]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    )


def _status(line: str) -> None:
    print(f"strigil ingest: {line}", file=sys.stderr, flush=True)


def _status_line(ingester: Any, forwarder: Any, progress: dict[str, object]) -> str:
    """What the ingester is doing, for a log: tools and their state, samples, loss, and the
    forwarding (acknowledged, lag, spooled, reconnects, the last error)."""
    import time

    def state(link: Any) -> str:
        last = link.stats.last_frame_monotonic
        if last is None:
            return "connected, no data yet"
        quiet = time.monotonic() - last
        return "streaming" if quiet < 2.0 else f"no data for {quiet:.0f} s"

    tools = ", ".join(
        f"{link.serial} {state(link)}"  # the tool's serial once its config was read
        for _, link in sorted(ingester.links.items())
    )
    line = (
        f"{progress['tools']} tool(s){': ' + tools if tools else ' found yet'}; "
        f"{progress['samples']:,} samples, {progress['lost_frames']} frames lost"
    )
    if forwarder is not None:
        stats = list(forwarder.stats().values())
        lags = [s.latency_s[-1] for s in stats if s.latency_s]
        lag = f"{max(lags):.2f} s" if lags else "—"
        reconnects = sum(max(s.connections - 1, 0) for s in stats)
        errors = [s.last_error for s in stats if s.last_error]
        line += (
            f"; API: {progress['acked_frames']:,} frames acknowledged, lag {lag}, "
            f"{progress['unacked_frames']:,} frames waiting ({progress['spool_files']} spool "
            f"files), {reconnects} reconnects" + (f", last error: {errors[-1]}" if errors else "")
        )
    return line


def _progress(ingester: Any, forwarder: Any) -> dict[str, object]:
    links = ingester.links.values()
    post: dict[str, object] = {
        "tools": len(links),
        "samples": sum(x.stats.samples for x in links),
        "lost_frames": sum(x.stats.lost_frames for x in links),
    }
    if forwarder is not None:
        post["acked_frames"] = sum(x.frames_acked for x in forwarder.stats().values())
        post["unacked_frames"] = sum(t.unacked for t in forwarder.tools.values())
        post["spool_files"] = len(forwarder.spool)
    return post


def _report(ingester: Any, forwarder: Any) -> None:
    for link in ingester.links.values():
        s = link.stats
        print(
            f"{link.serial}: {s.samples} samples in {s.frames} frames, {s.lost_frames} frames "
            f"lost, {s.malformed_frames} malformed, {s.connections} connection(s)"
        )
        if forwarder is not None and link.serial in forwarder.tools:
            tool = forwarder.tools[link.serial]
            f = tool.stats
            print(
                f"  to the API: {f.frames_acked} frames acknowledged ({f.stored} stored, "
                f"{f.duplicate_frames} duplicates, {f.unassigned} outside a session), "
                f"{tool.unacked} frames still spooled in {forwarder.spool.folder}"
            )
