"""The computer's own Bluetooth through bleak's platform backends (BlueZ over D-Bus on Linux,
CoreBluetooth on macOS, WinRT on Windows), and what to say when it cannot be used.

One factory gives the scanner's and the client's keyword arguments (:func:`platform_kwargs`),
as :func:`strigil.ingest.runtime.bleak_kwargs` does for bumble; the link code never asks which
backend it runs on, except to read the MTU the way each exposes it (:func:`negotiated_mtu`).
"""

from __future__ import annotations

import sys
from typing import Any

from strigil.ingest import protocol as p
from strigil.ingest.errors import BluetoothUnavailableError, ToolRefusedError

MIN_BLUEZ = (5, 55)
"""bleak's BlueZ backend needs BlueZ 5.55 or newer."""


def platform_kwargs(adapter: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Scanner and client keyword arguments for the platform backend (``adapter``: ``hci1``,
    Linux only)."""
    if adapter is None:
        return {}, {}
    if not sys.platform.startswith("linux"):
        raise BluetoothUnavailableError(
            f"--adapter {adapter}: choosing an adapter works on Linux only; leave it out"
        )
    return {"bluez": {"adapter": adapter}}, {"bluez": {"adapter": adapter}}


async def check_bluez_version() -> None:
    """On Linux, refuse a BlueZ older than bleak supports (read from ``bluetoothctl``, as
    bleak does; without it, assumed new enough)."""
    if not sys.platform.startswith("linux"):
        return
    from bleak.backends.bluezdbus.version import _get_bluetoothctl_version

    found = await _get_bluetoothctl_version()
    if found is None:
        return
    version = tuple(int(x) for x in found.groups())
    if version < MIN_BLUEZ:
        raise BluetoothUnavailableError(
            f"BlueZ {version[0]}.{version[1]} is too old: strigil needs BlueZ "
            f"{MIN_BLUEZ[0]}.{MIN_BLUEZ[1]} or newer (upgrade the bluez package, or use "
            "--hci with a USB controller)"
        )


def explain(exc: BaseException) -> BluetoothUnavailableError | None:
    """One line saying what is wrong with the computer's Bluetooth and what to do, for an
    error from starting a scan or a connection; None when ``exc`` is not about that."""
    from bleak.exc import (
        BleakBluetoothNotAvailableError,
        BleakBluetoothNotAvailableReason,
        BleakDBusError,
        BleakError,
    )

    if isinstance(exc, BluetoothUnavailableError):
        return exc
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = exc.reason
        why = BleakBluetoothNotAvailableReason
        text = {
            why.NO_BLUETOOTH: "no Bluetooth adapter found: plug one in, or check that the "
            "computer has one and that it is not disabled",
            why.NO_BLE_CENTRAL_ROLE: "the Bluetooth adapter cannot act as a Bluetooth LE central: "
            "use an adapter with Bluetooth 4.0 or newer",
            why.POWERED_OFF: "Bluetooth is switched off: turn it on (`bluetoothctl power on`, or "
            "the system's Bluetooth settings) and try again",
            why.DENIED_BY_USER: "Bluetooth access was denied: allow this terminal or program "
            "to use "
            "Bluetooth in the system's privacy settings",
            why.DENIED_BY_SYSTEM: "Bluetooth access is not allowed for this user: on Linux add the "
            "user to the `bluetooth` group (then log in again); on macOS allow Bluetooth for "
            "this terminal in Privacy & Security",
        }.get(reason, f"Bluetooth is not available ({exc})")
        return BluetoothUnavailableError(text)
    if isinstance(exc, BleakDBusError):
        if exc.dbus_error in (
            "org.freedesktop.DBus.Error.ServiceUnknown",
            "org.freedesktop.DBus.Error.NameHasNoOwner",
        ):
            return BluetoothUnavailableError(
                "BlueZ is not running (no org.bluez on the system bus): start it with "
                "`systemctl start bluetooth`, or install the bluez package"
            )
        if exc.dbus_error == "org.freedesktop.DBus.Error.AccessDenied":
            return BluetoothUnavailableError(
                "the system bus refused access to BlueZ: add the user to the `bluetooth` group "
                "(then log in again)"
            )
        if exc.dbus_error == "org.bluez.Error.NotReady":
            return BluetoothUnavailableError(
                "the Bluetooth adapter is not ready (switched off?): turn it on with "
                "`bluetoothctl power on` and try again"
            )
        return None
    if isinstance(exc, BleakError) and "BlueZ >= 5.55" in str(exc):
        return BluetoothUnavailableError(
            "BlueZ is too old: strigil needs BlueZ 5.55 or newer (upgrade the bluez package)"
        )
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError) and sys.platform.startswith(
        "linux"
    ):
        return BluetoothUnavailableError(
            "no D-Bus system bus to reach BlueZ (is dbus running? in a container, mount "
            "/run/dbus): or use --hci with a USB controller"
        )
    if isinstance(exc, PermissionError):
        return BluetoothUnavailableError(
            f"permission denied using Bluetooth ({exc}): on Linux add the user to the "
            "`bluetooth` group"
        )
    return None


async def negotiated_mtu(client: Any, serial: str) -> int:
    """The ATT MTU of a connected client, read the way its backend exposes it (BlueZ reports
    23 until the MTU is acquired, so it is acquired first). Refuses a tool whose MTU cannot
    carry one sample."""
    backend = getattr(client, "_backend", None)
    acquire = getattr(backend, "_acquire_mtu", None)
    if acquire is not None:  # BlueZ: AcquireNotify on the stream (closed again at once)
        from contextlib import suppress

        from bleak.exc import BleakError

        with suppress(BleakError, AssertionError, StopIteration):
            await acquire()
    mtu = int(client.mtu_size)
    try:
        p.max_samples_per_frame(mtu)
    except ValueError:
        raise ToolRefusedError(
            f"{serial}: the link's ATT MTU is {mtu} bytes, too small for one sample (the "
            f"profile needs at least {p.ATT_HEADER_BYTES + p.HEADER_BYTES + p.SAMPLE_BYTES}); "
            "update the tool's firmware or the computer's Bluetooth stack"
        ) from None
    return mtu
