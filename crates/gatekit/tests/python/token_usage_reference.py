"""Python Gatekit 0.3's own `token_usage` plugin counting recorded traffic, as a reference.

Usage: token_usage_reference.py EXCHANGES.json WORKDIR
EXCHANGES.json: {"server": NAME, "exchanges": [{"id", "method", "params", "result"}]}.
Prints {"tool": {"input": N, "output": M}} for that server. Fails if tiktoken is not the
encoder in use (the plugin would silently fall back to a character heuristic).
"""
import asyncio
import json
import sys

from gatekit.plugins.auditing.token_usage import TokenUsagePlugin
from gatekit.protocol.messages import MCPRequest, MCPResponse


async def main():
    recorded = json.load(open(sys.argv[1]))
    workdir = sys.argv[2]
    plugin = TokenUsagePlugin({"output_file": "ref.csv", "state_file": "ref_state.json"})
    plugin.set_config_directory(workdir)
    if not plugin._tiktoken_available:
        sys.exit("tiktoken is not available to the reference plugin (cl100k_base ranks missing?)")
    server = recorded["server"]
    for ex in recorded["exchanges"]:
        request = MCPRequest(jsonrpc="2.0", method=ex["method"], id=ex["id"], params=ex["params"])
        await plugin.log_request(request, None, server)
        response = MCPResponse(jsonrpc="2.0", id=ex["id"], result=ex["result"])
        await plugin.log_response(request, response, None, server)
    print(json.dumps(plugin._counters.get(server, {})))
    plugin._flush_timer_stopped = True


asyncio.run(main())
