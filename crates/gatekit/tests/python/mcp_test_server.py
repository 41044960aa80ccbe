"""An MCP server built with the official Python SDK (FastMCP), used as a real upstream.

Tools cover what the gateway must route: plain calls, slow calls (concurrency), huge
results (framing), sampling requests to the client, and a crash (restart).
"""

import asyncio
import os

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import SamplingMessage, TextContent

mcp = FastMCP("py-test-server", instructions="Python SDK test server.")


@mcp.tool()
async def echo(text: str) -> str:
    """Returns its argument."""
    return text


@mcp.tool()
async def slow(seconds: float) -> str:
    """Sleeps, then answers."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@mcp.tool(structured_output=False)
def big(mib: int) -> str:
    """Returns `mib` MiB of text."""
    return "y" * (mib * 1024 * 1024)


@mcp.tool()
async def ask_model(prompt: str, ctx: Context) -> str:
    """Asks the client's model through sampling/createMessage."""
    result = await ctx.session.create_message(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
        max_tokens=20,
    )
    return f"model said: {result.content.text}"


@mcp.tool()
def crash() -> str:
    """Kills this server process."""
    os._exit(7)


@mcp.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@mcp.prompt()
def review(code: str) -> str:
    """A review prompt."""
    return f"Please review: {code}"


@mcp.resource("pytest://info")
def info() -> str:
    """A static resource."""
    return "python server resource"


if __name__ == "__main__":
    mcp.run()
