#!/usr/bin/python3
"""A Modbus TCP server on Debian's pymodbus 3.0: an independent peer for cityedge's tests.

Run with Debian's interpreter (the python3 first on PATH may be another one without pymodbus):

    /usr/bin/python3 test/peers/pymodbus_server.py --port 0 --map MAP.json

MAP.json, one unit:
    {"unit": 1,
     "hr": {"start": 0, "values": [1, 2, 3]},
     "ir": [{"start": 0, "values": [10]}, {"start": 100, "values": [11, 12]}],
     "co": {"start": 0, "values": [true, false]},
     "di": {"start": 5, "values": [1, 0, 1]}}
or several units: {"units": [{"unit": 1, ...}, {"unit": 2, ...}]}.

Addresses are 0-based PDU addresses, as cityedge's config writes them (`hr:0`): a value the map
puts at address A is what any standard client reading address A gets. Every address not in the map
answers exception 02 (illegal data address), including a read that only partly overlaps the map.
Requests for a unit id not in the map get no answer at all (pymodbus 3.0 drops them in its framer).

Prints "pymodbus listening on HOST:PORT" (the real port, also with --port 0) once bound.
Writes from clients change the served values (the map is the initial state).
"""
import argparse
import asyncio
import json
import logging
import signal
import sys
import threading



def stub_serial_modules():
    """Lets pymodbus.server import without pyserial.

    pymodbus 3.0's server module imports serial and serial_asyncio at the top for its serial server
    (Debian: python3-serial-asyncio, only a Recommends of python3-pymodbus, so an install with
    --no-install-recommends lacks it). The TCP server never uses them, so empty stand-ins are enough.
    """
    import importlib.util
    import types
    for name in ("serial", "serial_asyncio"):
        if importlib.util.find_spec(name) is None:
            mod = types.ModuleType(name)
            def unavailable(*_args, **_kwargs):
                raise RuntimeError(f"{name} is not installed (Debian: python3-serial-asyncio)")
            mod.create_serial_connection = unavailable
            mod.Serial = unavailable
            sys.modules[name] = mod


try:
    stub_serial_modules()
    from pymodbus.datastore import (
        ModbusServerContext,
        ModbusSlaveContext,
        ModbusSparseDataBlock,
    )
    from pymodbus.server.async_io import ModbusTcpServer
    from pymodbus import __version__ as PYMODBUS_VERSION
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(
        f"cannot import pymodbus under {sys.executable} ({exc}): install the Debian package "
        "python3-pymodbus and run this with /usr/bin/python3",
        file=sys.stderr,
        flush=True,
    )
    sys.exit(3)

TABLES = ("hr", "ir", "co", "di")
BIT_TABLES = ("co", "di")


class MapError(ValueError):
    """A malformed map file; the message names the unit, table and entry."""


def table_values(unit, table, spec):
    """Turns a table spec ({start, values} or a list of them) into {address: value}."""
    blocks = spec if isinstance(spec, list) else [spec]
    values = {}
    for i, blk in enumerate(blocks):
        where = f"unit {unit} {table}[{i}]"
        if not isinstance(blk, dict) or "start" not in blk or "values" not in blk:
            raise MapError(f"{where}: expected {{\"start\": N, \"values\": [...]}}, got {blk!r}")
        start = blk["start"]
        if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start <= 65535:
            raise MapError(f"{where}: start {start!r} is not an address 0..65535")
        for off, val in enumerate(blk["values"]):
            addr = start + off
            if addr > 65535:
                raise MapError(f"{where}: address {addr} is beyond 65535")
            if addr in values:
                raise MapError(f"{where}: address {addr} is mapped twice")
            if table in BIT_TABLES:
                if val not in (0, 1):  # True/False compare equal to 1/0
                    raise MapError(f"{where}: {table}:{addr} value {val!r} is not a bit")
                values[addr] = bool(val)
            else:
                if not isinstance(val, int) or isinstance(val, bool) or not 0 <= val <= 65535:
                    raise MapError(f"{where}: {table}:{addr} value {val!r} is not a register 0..65535")
                values[addr] = val
    return values


def build_context(doc):
    """Builds the server context: one slave context per unit, sparse blocks keyed by PDU address."""
    units = doc["units"] if isinstance(doc, dict) and "units" in doc else [doc]
    slaves = {}
    for entry in units:
        if not isinstance(entry, dict):
            raise MapError(f"a unit entry must be an object, got {entry!r}")
        unit = entry.get("unit", 1)
        if not isinstance(unit, int) or not 0 <= unit <= 247:
            raise MapError(f"unit id {unit!r} is not 0..247")
        if unit in slaves:
            raise MapError(f"unit {unit} is mapped twice")
        unknown = set(entry) - set(TABLES) - {"unit"}
        if unknown:
            raise MapError(f"unit {unit}: unknown keys {sorted(unknown)} (tables are {', '.join(TABLES)})")
        blocks = {}
        for table in TABLES:
            # A sparse block answers exactly the addresses it holds: everything else, and any read
            # overlapping a hole, fails validate() and becomes exception 02. mutable=False stops a
            # write from adding addresses (validate() rejects those before they get here anyway).
            blocks[table] = ModbusSparseDataBlock(table_values(unit, table, entry.get(table, [])), mutable=False)
        # zero_mode=True: the request's PDU address is the block key. With the default
        # (zero_mode=False) pymodbus 3.0 adds 1 to every address before looking it up, so a value
        # at key A would be what a client reading A-1 gets.
        slaves[unit] = ModbusSlaveContext(**blocks, zero_mode=True)
    return ModbusServerContext(slaves=slaves, single=False)


def watch_stdin(loop, stop):
    """Ends the server when stdin reaches EOF: the parent test process died without killing us."""
    def run():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except Exception:  # pylint: disable=broad-except
            pass
        loop.call_soon_threadsafe(stop.set)
    threading.Thread(target=run, daemon=True).start()


async def serve(args, context):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_on_stdin_eof:
        watch_stdin(loop, stop)

    server = ModbusTcpServer(context, address=(args.host, args.port), allow_reuse_address=True)
    task = asyncio.create_task(server.serve_forever())
    await asyncio.wait({task, asyncio.ensure_future(server.serving)}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # bind failed: serve_forever raised before serving
        task.result()
        raise RuntimeError("server stopped before it started serving")
    host, port = server.server.sockets[0].getsockname()[:2]
    print(f"pymodbus listening on {host}:{port} (pymodbus {PYMODBUS_VERSION})", flush=True)

    await stop.wait()
    await server.server_close()
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):  # pylint: disable=broad-except
        pass
    print("pymodbus stopped", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed in the ready line)")
    parser.add_argument("--map", required=True, help="JSON register map")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    parser.add_argument("--debug", action="store_true", help="log every frame to stderr")
    args = parser.parse_args()

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.debug:
        # pymodbus 3.0 logs every ordinary client disconnect as an ERROR ("Handler for stream …
        # has been canceled"); that noise would bury real errors in a failing test's output.
        quiet = logging.Filter()
        quiet.filter = lambda rec: "has been canceled" not in rec.getMessage()
        logging.getLogger("pymodbus.server.async_io").addFilter(quiet)
    try:
        with open(args.map, encoding="utf-8") as f:
            context = build_context(json.load(f))
    except (OSError, ValueError) as exc:  # MapError and json's JSONDecodeError are ValueErrors
        print(f"bad map {args.map}: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    try:
        asyncio.run(serve(args, context))
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
