"""LangGraph's own PostgresSaver (langgraph-checkpoint-postgres 3.2.0) on
the database the Rust tests share with it.

    pg_interop.py URL read THREAD    prints every checkpoint of THREAD as JSON
                                     (lg_readings.tuples)
    pg_interop.py URL write THREAD   writes a small thread, prints it as JSON
    pg_interop.py URL setup THREAD   runs Python's setup(), prints THREAD
"""
import json
import sys

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg import Connection
from psycopg.rows import dict_row

from lg_readings import tuples


def write(saver, thread):
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    cp = empty_checkpoint()
    values = {"count": 1, "topic": "t", "items": [1, {"a": "b"}], "none": None}
    versions = {k: saver.get_next_version(None, None) for k in values}
    cp["channel_values"], cp["channel_versions"] = values, versions
    first = saver.put(config, cp, {"source": "input", "step": -1, "parents": {}}, versions)
    saver.put_writes(first, [("items", [2]), ("count", 5)], "task-1", "~__pregel_pull, node")
    cp2 = empty_checkpoint()
    v2 = dict(versions, count=saver.get_next_version(versions["count"], None))
    cp2["channel_values"] = dict(values, count=2)
    cp2["channel_versions"] = v2
    saver.put(first, cp2, {"source": "loop", "step": 0, "parents": {}, "user": "py"},
              {"count": v2["count"]})


def main():
    url, mode, thread = sys.argv[1:4]
    with Connection.connect(url, autocommit=True, prepare_threshold=0,
                            row_factory=dict_row) as conn:
        saver = PostgresSaver(conn)
        if mode == "setup":
            saver.setup()
        elif mode == "write":
            write(saver, thread)
        print(json.dumps(tuples(saver, thread)))


main()
