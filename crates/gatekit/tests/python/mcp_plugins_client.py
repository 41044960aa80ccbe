"""Drives Gatekit, configured with plugins and an audit file, with the official Python MCP SDK
client, and prints what happened as JSON. Usage: mcp_plugins_client.py GATEKIT CONFIG"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError


def text_of(result):
    return [c.text for c in result.content if getattr(c, "type", "") == "text"]


async def main():
    gatekit, config = sys.argv[1], sys.argv[2]
    params = StdioServerParameters(command=gatekit, args=["run", "--config", config])
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            tools = await s.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)
            out["redacted"] = text_of(await s.call_tool("py__say", {"text": "token AKIAIOSFODNN7EXAMPLE"}))
            try:
                await s.call_tool("py__say", {"text": "ssn 123-45-6789"})
                out["blocked"] = None
            except McpError as e:
                out["blocked"] = {"code": e.error.code, "message": e.error.message}
            try:
                await s.call_tool("py__slow", {"seconds": 0})
                out["hidden"] = None
            except McpError as e:
                out["hidden"] = e.error.code
    print(json.dumps(out))


asyncio.run(main())
