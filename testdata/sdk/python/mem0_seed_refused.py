"""The seed cookbook's searches that the newest mem0ai Python SDK (2.x) refuses.

The 2.x SDK wants user_id / agent_id inside filters, and raises ValueError,
on the client, for the top-level ids that four of the cookbook's search()
calls pass. This runs those four exactly as printed: each must raise that
ValueError and send nothing. Run by TestMem0SeedPythonNewest, which also
checks that the sidecar received nothing but the client's key check.
"""

import os
import sys
from importlib.metadata import version

from mem0 import MemoryClient

HOST = os.environ["MEMPROXY_URL"]


def check(name, ok, detail=""):
    if not ok:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")


check("the SDK is the 2.x line", version("mem0ai").startswith("2."), version("mem0ai"))
mem0_client = MemoryClient(host=HOST)
sent = []
mem0_client.client.event_hooks["request"].append(lambda req: sent.append(f"{req.method} {req.url}"))


def refused(name, call):
    try:
        call()
    except ValueError as e:
        check(f"{name}: refused by the SDK", "Top-level entity parameters" in str(e), e)
        return
    check(f"{name}: refused by the SDK", False, "it ran")


refused("search(user_id=sarah, filters=metadata)", lambda: mem0_client.search(
    "How should I coach Sarah today?",
    user_id="sarah",
    filters={"metadata": {"agent_id": "fitcoach_v1"}}
))
refused("search(agent_id=)", lambda: mem0_client.search(
    "coaching personality",
    agent_id="fitcoach_v1"
))
refused("search(user_id=mike, filters=metadata)", lambda: mem0_client.search(
    "How should I coach Mike today?",
    user_id="mike",
    filters={"metadata": {"agent_id": "fitcoach_v1"}}
))
refused("search(user_id=)", lambda: mem0_client.search(
    "Generate coaching advice for Sarah",
    user_id="sarah"
))
check("no request left the SDK for them", sent == [], sent)
print("ALL OK")
