"""What the PostgreSQL interop scripts (pg_interop.py, pg_resume.py,
pg_subgraphs.py) print of a thread, in the JSON form the Rust tests build
with tests/python_support (`tuples`): node-call counts, Python's objects
as this crate's JSON forms, and every checkpoint tuple.
"""
import json

from langgraph.types import Interrupt, Send

# Node calls of this process, by node.
CALLS = {}


def hit(node):
    CALLS[node] = CALLS.get(node, 0) + 1


def plain(value):
    """Sends and Interrupts as this crate's JSON forms, the rest as is."""
    if isinstance(value, Send):
        return {"node": value.node, "arg": plain(value.arg)}
    if isinstance(value, Interrupt):
        return {"value": plain(value.value), "id": value.id}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def configurable(config, key):
    return config["configurable"].get(key) if config else None


def tuples(saver, thread):
    """`list` and `get_tuple` of every checkpoint of every namespace of
    `thread` (both must give the same pending writes): ns, id, parent,
    values, metadata and the writes `[task, channel, value]` sorted by
    their JSON; sorted by namespace, then id."""
    items = []
    for listed in list(saver.list({"configurable": {"thread_id": thread}})):
        t = saver.get_tuple(listed.config)
        assert plain(t.pending_writes) == plain(listed.pending_writes)
        writes = sorted(([tid, ch, plain(v)] for tid, ch, v in t.pending_writes),
                        key=json.dumps)
        items.append({
            "ns": configurable(t.config, "checkpoint_ns"),
            "id": configurable(t.config, "checkpoint_id"),
            "parent": configurable(t.parent_config, "checkpoint_id"),
            "values": plain(t.checkpoint["channel_values"]),
            "metadata": plain(t.metadata),
            "writes": writes,
        })
    items.sort(key=lambda i: (i["ns"], i["id"]))
    return items
