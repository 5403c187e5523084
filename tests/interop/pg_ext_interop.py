"""Python objects in LangGraph's msgpack, shared with the Rust tests
(tests/postgres_python_ext.rs) through langgraph-checkpoint-postgres 3.2.0.

    pg_ext_interop.py URL write THREAD   writes a checkpoint and writes holding
                                         a Send, an Interrupt, LangChain
                                         messages and a class of this script
    pg_ext_interop.py URL check THREAD   reads THREAD with get_tuple and prints
                                         a JSON list of what differs from the
                                         objects `write` stored ([] if none)
"""
import dataclasses
import json
import sys

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.types import Interrupt, Send
from psycopg import Connection
from psycopg.rows import dict_row

NULL_TASK = "00000000-0000-0000-0000-000000000000"


@dataclasses.dataclass
class Point:
    """A class the Rust side knows nothing about."""
    x: int
    y: int


def expected_values():
    return {
        "__pregel_tasks": [Send("work", {"item": 1})],
        "messages": [AIMessage(content="hi", id="m1"), HumanMessage(content="yo", id="h1")],
        "point": Point(1, 2),
    }


def expected_writes():
    return {
        ("task-1", "__interrupt__"): [Interrupt(value={"q": "approve?"}, id="int-1")],
        ("task-1", "__resume__"): ["yes"],
        (NULL_TASK, "__resume__"): "yes",
        ("task-2", "__pregel_tasks"): Send("work", {"item": 2}),
    }


def write(saver, thread):
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    cp = empty_checkpoint()
    values = expected_values()
    versions = {k: saver.get_next_version(None, None) for k in values}
    cp["channel_values"], cp["channel_versions"] = values, versions
    stored = saver.put(config, cp, {"source": "loop", "step": 1, "parents": {}}, versions)
    by_task = {}
    for (task, channel), value in expected_writes().items():
        by_task.setdefault(task, []).append((channel, value))
    for task, writes in by_task.items():
        saver.put_writes(stored, writes, task, "")


def check(saver, thread):
    t = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
    if t is None:
        return ["no checkpoint"]
    problems = []
    values = t.checkpoint["channel_values"]
    for channel, want in expected_values().items():
        if values.get(channel) != want:
            problems.append(f"{channel}: {values.get(channel)!r} != {want!r}")
    made_in_rust = values.get("rust_message")
    if not isinstance(made_in_rust, AIMessage) or made_in_rust.content != "from rust":
        problems.append(f"rust_message: {made_in_rust!r}")
    got = {(task, channel): value for task, channel, value in t.pending_writes}
    for key, want in expected_writes().items():
        have = got.get(key)
        if key[1] == "__interrupt__":
            # Interrupt has no __eq__ of its own beyond the dataclass's; say why.
            same = [(i.value, i.id) for i in have or []] == [(i.value, i.id) for i in want]
            if not same or not all(isinstance(i, Interrupt) for i in have or []):
                problems.append(f"{key}: {have!r} != {want!r}")
        elif have != want:
            problems.append(f"{key}: {have!r} != {want!r}")
    rust_send = got.get(("task-3", "__pregel_tasks"))
    if rust_send != Send("work", {"item": 3}):
        problems.append(f"Rust's own Send: {rust_send!r}")
    return problems


def main():
    url, mode, thread = sys.argv[1:4]
    with Connection.connect(url, autocommit=True, prepare_threshold=0,
                            row_factory=dict_row) as conn:
        saver = PostgresSaver(conn)
        if mode == "write":
            saver.setup()
            write(saver, thread)
            print(json.dumps([]))
        else:
            print(json.dumps(check(saver, thread)))


main()
