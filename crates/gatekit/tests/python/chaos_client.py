"""One real MCP client session for the chaos test (tests/siem_chaos.rs): the official Python MCP
SDK starts Gatekit over stdio, initializes a ClientSession and calls `ex__echo` until the
gateway dies (the test SIGKILLs it) or the test closes this script's stdin.

Usage: chaos_client.py GATEKIT CONFIG PREFIX PIDFILE GATEWAY_LOG

Prints, one line each, flushed at once:
  pid N           the gateway is initialized and serving (N: its pid, for the killer)
  answered TEXT   a call `ex__echo {"text": TEXT}` came back with TEXT (TEXT is PREFIX-n)
  down            the session is over, before the SDK reaps the gateway

Exits 0 when the gateway dies: that is the chaos, not a failure; how the session ended goes to
stderr for the record. On stdin's end it stops calling and leaves both contexts, so the SDK
closes the gateway's stdin and waits for it to flush and exit (the SDK's own shutdown).
"""

import asyncio
import sys
import time
from datetime import timedelta

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def say(line):
    print(line, flush=True)


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def watch_stdin(stop):
    # asyncio's pipe reader, not a thread: a thread blocked in read() would keep the
    # interpreter from exiting after the gateway died.
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()
    stop.set()


async def session(gatekit, config, prefix, pidfile, log, stop):
    # The shell writes its pid, which `exec` hands to Gatekit, so the test can SIGKILL the
    # gateway itself; the SDK does not expose the process it starts.
    params = StdioServerParameters(
        command="/bin/sh",
        args=["-c", 'echo $$ > "$0"; exec "$1" run --config "$2"', pidfile, gatekit, config],
        env={"GATEKIT_LOG": "info"},
    )
    down = None
    with open(log, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            try:
                # A gateway that hangs instead of dying ends the session too, as a client
                # with a request timeout would.
                async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=10)) as s:
                    await s.initialize()
                    with open(pidfile) as f:
                        say(f"pid {int(f.read())}")
                    n = 0
                    while not stop.is_set():
                        n += 1
                        text = f"{prefix}-{n}"
                        result = await s.call_tool("ex__echo", {"text": text})
                        if not result.isError and text_of(result) == text:
                            say(f"answered {text}")
            finally:
                # Said before stdio_client's exit reaps the gateway: from then on its pid may
                # be reused, and the killer must not choose it any more.
                say("down")
                down = time.monotonic()
    # For the record: past 2 s the SDK stops waiting and sends SIGTERM, then SIGKILL.
    return time.monotonic() - down


async def main():
    gatekit, config, prefix, pidfile, log = sys.argv[1:6]
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_stdin, stop)
        try:
            reaped = await session(gatekit, config, prefix, pidfile, log, stop)
            ended = f"stdin closed; the gateway exited {reaped:.2f} s after the session's end"
        except Exception as e:  # noqa: BLE001 - the gateway's death surfaces as any of several
            ended = f"gateway gone: {e!r}"
        tg.cancel_scope.cancel()
    print(f"chaos_client {prefix}: {ended}", file=sys.stderr, flush=True)


asyncio.run(main())
