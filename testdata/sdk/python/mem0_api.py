"""The rest of the memory API through the mem0ai Python SDK (1.0.x or 2.x).

Run by the Go tests TestMem0APIPython1 and TestMem0APIPythonNewest, with the
environment of mem0_seed.py and LEARNED_USER / LEARNED_FACT: a user the test
taught a fact through the chat route before starting this script. Uses only
calls both SDK lines accept.
"""

import os
import sys
from importlib.metadata import version

from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError, ValidationError

HOST = os.environ["MEMPROXY_URL"]


def check(name, ok, detail=""):
    if not ok:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def texts(result):
    return [m["memory"] for m in result["results"]]


def raises(name, exc, call, says):
    try:
        call()
    except exc as e:
        check(name, says in str(e), e)
        return
    except Exception as e:  # noqa: BLE001 - report what came instead
        check(name, False, f"{type(e).__name__}: {e}")
    check(name, False, "no error")


print("mem0ai", version("mem0ai"))

# A wrong key fails at construction, with the sidecar's message.
try:
    MemoryClient(api_key="not-the-key", host=HOST)
    check("a wrong key is refused", False, "constructed")
except ValueError as e:
    check("a wrong key is refused", "invalid API key" in str(e), e)

client = MemoryClient(host=HOST)

# What the chat route learned is visible here.
learned = client.get_all(filters={"user_id": os.environ["LEARNED_USER"]})
check("get_all shows what chat learned", os.environ["LEARNED_FACT"] in texts(learned), learned)
found = client.search("where does she run", filters={"user_id": os.environ["LEARNED_USER"]})
check("search finds what chat learned", texts(found)[:1] == [os.environ["LEARNED_FACT"]], found)

added = client.add([{"role": "user", "content": "I swim 2K every Tuesday."}], user_id="nora", metadata={"type": "habit"})
check("add answers with the event", [r["event"] for r in added["results"]] == ["ADD"], added)
mid = added["results"][0]["id"]
client.add("Nora's coach is patient.", user_id="nora", agent_id="coach_v1", infer=False)

m = client.get(mid)
check("get", m["memory"] == "I swim 2K every Tuesday." and m["user_id"] == "nora" and m["metadata"] == {"type": "habit"}, m)

client.update(mid, text="I swim 3K every Tuesday.")
check("update", client.get(mid)["memory"] == "I swim 3K every Tuesday.", client.get(mid))
h = client.history(mid)
check("history", [(r["event"], r["old_memory"], r["new_memory"]) for r in h] == [
    ("ADD", None, "I swim 2K every Tuesday."), ("UPDATE", "I swim 2K every Tuesday.", "I swim 3K every Tuesday.")], h)

# Filters: operators, metadata, dates.
q = client.get_all(filters={"AND": [{"user_id": "nora"}, {"agent_id": {"in": ["coach_v1"]}}]})
check("filters: in", texts(q) == ["Nora's coach is patient."], q)
q = client.get_all(filters={"user_id": "nora", "NOT": [{"agent_id": "*"}]})
check("filters: NOT and *", texts(q) == ["I swim 3K every Tuesday."], q)
q = client.get_all(filters={"user_id": "nora", "created_at": {"gte": "2020-01-01"}, "memory": {"icontains": "SWIM"}})
check("filters: dates and icontains", texts(q) == ["I swim 3K every Tuesday."], q)
q = client.search("swim", filters={"user_id": "nora", "metadata": {"type": {"in": ["habit", "goal"]}}}, top_k=5)
check("search: metadata in", texts(q) == ["I swim 3K every Tuesday."] and 0 < q["results"][0]["score"] <= 1, q)

# Errors arrive as the SDK's exceptions, with the sidecar's message.
raises("an unknown filter key", ValidationError, lambda: client.search("x", filters={"usr_id": "nora"}), 'unknown filter key "usr_id"')
raises("AND beside OR", ValidationError, lambda: client.get_all(filters={"AND": [{"user_id": "a"}], "OR": [{"user_id": "b"}]}), "AND and OR cannot stand side by side")
raises("no entity", ValidationError, lambda: client.search("x", filters={"metadata": {"type": "habit"}}), "user_id, agent_id, app_id, run_id is required")
raises("an unknown id", MemoryNotFoundError, lambda: client.get("00000000-0000-4000-8000-000000000000"), "not found")

# Batches, all or none.
b = client.add("Nora stretches after swimming.", user_id="nora", infer=False)["results"][0]["id"]
raises("a batch with an unknown id writes nothing", MemoryNotFoundError, lambda: client.batch_update(
    [{"memory_id": b, "text": "changed"}, {"memory_id": "00000000-0000-4000-8000-000000000000", "text": "x"}]), "not found")
check("...nothing", client.get(b)["memory"] == "Nora stretches after swimming.")
r = client.batch_update([{"memory_id": b, "text": "Nora stretches for ten minutes after swimming."}])
check("batch_update", "updated 1" in r["message"] and client.get(b)["memory"].startswith("Nora stretches for ten"), r)
r = client.batch_delete([{"memory_id": b}])
check("batch_delete", "deleted 1" in r["message"], r)
raises("batch-deleted is gone", MemoryNotFoundError, lambda: client.get(b), "not found")

# Entities, and deleting a user: memories and history gone.
users = client.users()
names = {(e["type"], e["name"]) for e in users["results"]}
check("users lists the entities", {("user", "nora"), ("agent", "coach_v1"), ("user", os.environ["LEARNED_USER"])} <= names, users)
client.delete_users(user_id="nora")
check("delete_users: no memories left", client.get_all(filters={"user_id": "nora"})["results"] == [])
raises("delete_users: the history is gone", MemoryNotFoundError, lambda: client.history(mid), "not found")

# delete_all by scope, and delete one.
keep = client.add("Omar cycles to work.", user_id="omar", infer=False)["results"][0]["id"]
gone = client.add("Omar's run note.", user_id="omar", run_id="r9", infer=False)["results"][0]["id"]
client.delete_all(user_id="omar", run_id="r9")
raises("delete_all(user_id, run_id) took the run's", MemoryNotFoundError, lambda: client.get(gone), "not found")
check("...and kept the rest", client.get(keep)["memory"] == "Omar cycles to work.")
r = client.delete(keep)
check("delete", r["message"] == "Memory deleted successfully!", r)

# reset: every entity, through GET /v1/entities/ and one delete each.
client.reset()
check("reset leaves nothing", client.users()["results"] == [], client.users())

print("ALL OK")
