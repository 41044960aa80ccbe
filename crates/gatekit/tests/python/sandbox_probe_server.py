"""A minimal MCP stdio server (standard library only) whose tools try what a sandbox must stop.

Tools: `read` (a file, `~` expanded with the server's HOME), `write` (a file), `connect` (TCP to
127.0.0.1:port). Failures are returned as `isError` results whose text starts with `ERROR`.
With an argument, the server writes `started` to that file first, so a test can tell whether
it ran at all.
"""
import json
import os
import socket
import sys


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def call(name, args):
    if name == "read":
        with open(os.path.expanduser(args["path"])) as f:
            return f.read()
    if name == "write":
        with open(args["path"], "w") as f:
            f.write(args["text"])
        return "written"
    if name == "connect":
        socket.create_connection(("127.0.0.1", int(args["port"])), timeout=5).close()
        return "connected"
    raise ValueError("unknown tool " + name)


def main():
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write("started")
    for line in sys.stdin:
        msg = json.loads(line)
        rid, method = msg.get("id"), msg.get("method")
        if rid is None or method is None:
            continue
        if method == "initialize":
            result = {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "sandbox-probe", "version": "1"},
            }
        elif method == "tools/list":
            tools = [{"name": n, "inputSchema": {"type": "object"}} for n in ("read", "write", "connect")]
            result = {"tools": tools}
        elif method == "tools/call":
            params = msg["params"]
            try:
                text, failed = call(params["name"], params.get("arguments", {})), False
            except Exception as e:  # the test reads the reason
                text, failed = "ERROR %s: %s" % (type(e).__name__, e), True
            result = {"content": [{"type": "text", "text": text}], "isError": failed}
        else:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "no " + method}})
            continue
        send({"jsonrpc": "2.0", "id": rid, "result": result})


main()
