"""A real MCP client (the `mcp` package) for tests/mcp_python.rs.

Reads a plan as JSON on stdin:
  {"command": [exe, arg...], "calls": [{"name": str, "arguments": obj|null}],
   "dcc_file": optional path of a dcc-mcp-core checkpoint file}
starts the server over stdio, lists its tools, makes each call and prints
one JSON report on stdout:
  {"server": {...}, "tools": [{"name", "description", "inputSchema", "annotations"}],
   "calls": [{"name", "is_error", "text", "structured"} | {"name", "protocol_error"}],
   "dcc": [the same calls answered by dcc-mcp-core's own handlers, as
           compact JSON text, when dcc_file is given]}
"""

import asyncio
import json
import sys

from mcp import Client, StdioServerParameters


async def talk(plan):
    params = StdioServerParameters(command=plan["command"][0], args=plan["command"][1:])
    report = {"tools": [], "calls": []}
    async with Client(params, read_timeout_seconds=60) as client:
        info = client.server_info if hasattr(client, "server_info") else None
        report["server"] = info.model_dump(mode="json") if info is not None else None
        listed = await client.list_tools()
        for tool in listed.tools:
            report["tools"].append(
                {
                    "name": tool.name,
                    "description": tool.description,
                    "inputSchema": tool.input_schema,
                    "annotations": tool.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
                    if tool.annotations
                    else None,
                }
            )
        for call in plan["calls"]:
            try:
                result = await client.call_tool(call["name"], call.get("arguments"))
            except Exception as exc:  # a JSON-RPC error: the client raises it
                report["calls"].append({"name": call["name"], "protocol_error": str(exc)})
                continue
            texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
            report["calls"].append(
                {
                    "name": call["name"],
                    "is_error": bool(result.is_error),
                    "text": texts[0] if len(texts) == 1 else texts,
                    "structured": result.structured_content,
                }
            )
    return report


def dcc_golden(path, calls):
    """The same calls answered by dcc-mcp-core's own handlers on `path`."""
    from dcc_mcp_core.checkpoint import CheckpointStore, register_checkpoint_tools

    class Registry:
        def register(self, **kw):
            pass

    class Stub:
        registry = Registry()
        handlers = {}

        def register_handler(self, name, fn):
            self.handlers[name] = fn

    stub = Stub()
    register_checkpoint_tools(stub, store=CheckpointStore(path))
    out = []
    for call in calls:
        name = call["name"].replace(".", "_")
        handler = stub.handlers.get(name)
        if handler is None:
            out.append(None)
            continue
        result = handler(call.get("arguments"))
        out.append(json.dumps(result, separators=(",", ":"), ensure_ascii=False))
    return out


def main():
    plan = json.load(sys.stdin)
    report = asyncio.run(talk(plan))
    if plan.get("dcc_file"):
        report["dcc"] = dcc_golden(plan["dcc_file"], plan["calls"])
    json.dump(report, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
