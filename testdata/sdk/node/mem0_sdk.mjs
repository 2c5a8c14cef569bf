// The mem0ai Node SDK (MemoryClient with host), pointed at memproxy.
//
// Run by the Go test TestMem0NodeSDK, which starts the sidecar and sets
// MEMPROXY_URL, MEM0_API_KEY, LEARNED_USER and LEARNED_FACT (a fact the
// test taught the sidecar through the chat route). The core calls of the
// seed cookbook, then the rest of the API. The SDK turns response keys
// into camelCase (userId, createdAt); metadata is kept as it is.
import MemoryClient from "mem0ai";

function check(name, ok, detail) {
  if (!ok) {
    console.log(`FAIL ${name}: ${JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok   ${name}`);
}

async function rejects(name, promise, errorName, says) {
  try {
    await promise;
  } catch (e) {
    check(name, e.name === errorName && String(e.message).includes(says), { name: e.name, message: e.message });
    return;
  }
  check(name, false, "no error");
}

const texts = (r) => r.results.map((m) => m.memory);
const client = new MemoryClient({ apiKey: process.env.MEM0_API_KEY, host: process.env.MEMPROXY_URL });

// The seed's layers.
await client.add("I'm FitCoach - supportive, motivational, celebrates small wins", { agent_id: "fitcoach_v1", metadata: { type: "personality" } });
const profile = await client.add("Sarah's goal: Run half marathon by June.", { user_id: "sarah", metadata: { type: "profile" } });
check("add with a string", profile.results.length === 1 && profile.results[0].event === "ADD", profile);
await client.add(
  [{ role: "user", content: "Sarah responds best to encouragement. Inside joke: 'No pain, no protein shake!'" }],
  { userId: "sarah", metadata: { agent_id: "fitcoach_v1", type: "relationship" } },
);
await client.add("Bench press: 185 lbs x 10 reps, 3 sets", { user_id: "mike" });

const context = await client.search("coaching context for Sarah", {
  filters: { OR: [{ agent_id: "fitcoach_v1" }, { user_id: "sarah" }] },
});
check("search with OR", context.results.length === 3 && !texts(context).some((t) => t.includes("Bench")), context);
check("camelCase keys and a score", context.results.every((m) => "createdAt" in m && "userId" in m && m.score >= 0 && m.score <= 1), context.results[0]);
const persona = context.results.find((m) => m.agentId === "fitcoach_v1");
check("the persona has no user", persona && persona.userId === null && persona.metadata.type === "personality", persona);

const rel = await client.search("How should I coach Sarah today?", {
  filters: { AND: [{ user_id: "sarah" }, { metadata: { agent_id: "fitcoach_v1" } }] },
});
check("relationship through a metadata filter", rel.results.length === 1 && texts(rel)[0].includes("protein shake") && rel.results[0].metadata.agent_id === "fitcoach_v1", rel);

const mike = await client.getAll({ filters: { user_id: "mike" } });
const sarah = await client.getAll({ filters: { user_id: "sarah" }, page: 1, pageSize: 1 });
check("getAll paginates", sarah.count === 2 && sarah.results.length === 1 && sarah.next !== null, sarah);
const sarahAll = await client.getAll({ filters: { user_id: "sarah" } });
const overlap = mike.results.filter((m) => sarahAll.results.some((s) => s.id === m.id));
check("no overlap between Mike and Sarah", overlap.length === 0 && mike.results.every((m) => m.userId === "mike") && sarahAll.results.every((m) => m.userId === "sarah"), { mike, sarahAll });

// The SDK itself refuses top-level ids in search, before any request.
await rejects("top-level userId is refused by the SDK", client.search("x", { user_id: "sarah" }), "Error", "Top-level entity parameters");

// Learned from chat, visible here.
const learned = await client.getAll({ filters: { user_id: process.env.LEARNED_USER } });
check("getAll shows what chat learned", texts(learned).includes(process.env.LEARNED_FACT), learned);

// get, update, history, delete.
const id = profile.results[0].id;
const got = await client.get(id);
check("get", got.memory === "Sarah's goal: Run half marathon by June." && got.userId === "sarah", got);
const upd = await client.update(id, { text: "Sarah's goal: Run a full marathon by October." });
check("update", upd.memory === "Sarah's goal: Run a full marathon by October.", upd);
const hist = await client.history(id);
check("history", hist.length === 2 && hist[1].event === "UPDATE" && hist[1].oldMemory === "Sarah's goal: Run half marathon by June.", hist);

// Errors: the SDK's classes, the sidecar's message.
await rejects("an unknown filter key", client.search("x", { filters: { usr_id: "sarah" } }), "ValidationError", "unknown filter key");
await rejects("AND beside OR", client.getAll({ filters: { AND: [{ user_id: "a" }], OR: [{ user_id: "b" }] } }), "ValidationError", "cannot stand side by side");
await rejects("an unknown id", client.get("00000000-0000-4000-8000-000000000000"), "MemoryNotFoundError", "not found");

// Batches.
const extra = await client.add("Mike deadlifts 225 lbs.", { user_id: "mike", infer: false });
const bu = await client.batchUpdate([{ memoryId: extra.results[0].id, text: "Mike deadlifts 235 lbs." }]);
check("batchUpdate", bu.message === "Successfully updated 1 memories", bu);
const bd = await client.batchDelete([extra.results[0].id]);
check("batchDelete", bd.message === "Successfully deleted 1 memories", bd);

// Entities; deleting a user takes memories and history.
const users = await client.users();
const names = users.results.map((e) => `${e.type}:${e.name}`);
check("users", names.includes("user:sarah") && names.includes("agent:fitcoach_v1") && names.includes("user:mike"), names);
await client.deleteUsers({ userId: "sarah" });
const after = await client.getAll({ filters: { user_id: "sarah" } });
check("deleteUsers: nothing left", after.count === 0, after);
await rejects("deleteUsers: the history is gone", client.history(id), "MemoryNotFoundError", "not found");
const da = await client.deleteAll({ userId: "mike" });
check("deleteAll by user", da.message === "Memories deleted successfully!" && (await client.getAll({ filters: { user_id: "mike" } })).count === 0, da);
const dd = await client.delete(persona.id);
check("delete", dd.message === "Memory deleted successfully!", dd);

console.log("ALL OK");
