"""Drives Gatekit with the official Python MCP SDK client and prints what happened as JSON.

Usage: mcp_test_client.py GATEKIT_BINARY CONFIG

The Rust test (tests/python_sdk.rs) asserts on the printed JSON; this script records facts and
does not decide pass or fail, except that any unexpected exception fails the run.
"""

import asyncio
import json
import sys
import time

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError


async def sampling_callback(context, params):
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text="forty-two"),
        model="gatekit-test-model",
        stopReason="endTurn",
    )


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def timed_call(session, name, args, start):
    result = await session.call_tool(name, args)
    return {"name": name, "text": text_of(result), "done": time.monotonic() - start}


async def main():
    gatekit, config = sys.argv[1], sys.argv[2]
    params = StdioServerParameters(command=gatekit, args=["run", "--config", config])
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, sampling_callback=sampling_callback) as s:
            init = await s.initialize()
            out["server_name"] = init.serverInfo.name
            out["protocol_version"] = init.protocolVersion
            out["has_tools_capability"] = init.capabilities.tools is not None
            await s.send_ping()

            tools = await s.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)

            hostile = "line1\nline2 | a=b \\ \u2028 \u200b CEF:0|x|y"
            out["py_echo"] = text_of(await s.call_tool("py__echo", {"text": hostile}))
            out["ex_echo"] = text_of(await s.call_tool("ex__echo", {"text": hostile}))
            out["hostile"] = hostile

            # Concurrency: two slow calls (one per upstream) and five fast ones, all at once.
            start = time.monotonic()
            calls = [
                timed_call(s, "py__slow", {"seconds": 1.5}, start),
                timed_call(s, "ex__slow", {"ms": 1500}, start),
            ] + [timed_call(s, "py__echo", {"text": f"fast{i}"}, start) for i in range(5)]
            results = await asyncio.gather(*calls)
            slow_done = min(r["done"] for r in results[:2])
            fast_done = max(r["done"] for r in results[2:])
            out["fast_before_slow"] = fast_done < slow_done
            out["concurrent_texts"] = [r["text"] for r in results]

            out["py_sampling"] = text_of(await s.call_tool("py__ask_model", {"prompt": "meaning?"}))
            out["ex_sampling"] = text_of(await s.call_tool("ex__sample", {"prompt": "meaning?"}))

            big = await s.call_tool("py__big", {"mib": 20})
            out["big_len"] = len(text_of(big))

            prompts = await s.list_prompts()
            out["prompts"] = sorted(p.name for p in prompts.prompts)
            got = await s.get_prompt("py__review", {"code": "x = 1"})
            out["prompt_text"] = got.messages[0].content.text

            resources = await s.list_resources()
            out["resources"] = sorted(str(r.uri) for r in resources.resources)
            read = await s.read_resource("pytest://info")
            out["resource_text"] = read.contents[0].text

            try:
                await s.call_tool("nosuch__tool", {})
                out["unknown_tool_error"] = None
            except McpError as e:
                out["unknown_tool_error"] = e.error.code

            # Crash the Python upstream mid-call; its call fails, the next ones recover.
            pid_before = json.loads(text_of(await s.call_tool("py__pid", {})))
            try:
                await s.call_tool("py__crash", {})
                out["crash_error"] = None
            except McpError as e:
                out["crash_error"] = {"code": e.error.code, "message": e.error.message}
            out["other_upstream_during_restart"] = text_of(await s.call_tool("ex__echo", {"text": "still here"}))
            recovered = None
            for _ in range(100):
                try:
                    recovered = json.loads(text_of(await s.call_tool("py__pid", {})))
                    break
                except McpError:
                    await asyncio.sleep(0.2)
            out["pid_before"] = pid_before
            out["pid_after"] = recovered
    print(json.dumps(out))


asyncio.run(main())
