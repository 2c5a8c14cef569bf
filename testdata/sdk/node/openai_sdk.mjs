// The official OpenAI Node SDK, pointed at memproxy.
//
// Run by the Go test TestOpenAINodeSDK, which starts a fake upstream and the
// sidecar and sets MEMPROXY_URL. Each check asserts; the Go test then checks
// what the upstream received.
import OpenAI from "openai";

const base = process.env.MEMPROXY_URL + "/v1";
const client = new OpenAI({
  baseURL: base,
  apiKey: "sk-client-key",
  defaultHeaders: { "X-Memory-User-Id": "mike", "X-Memory-Agent-Id": "fitcoach_v2" },
  maxRetries: 0,
});
const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
  },
}];

function check(name, ok, detail) {
  if (!ok) {
    console.log(`FAIL ${name}: ${JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok   ${name}`);
}

// Chat, plain, with the sidecar's headers.
const { data: chat, response } = await client.chat.completions
  .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "I bench 185 lbs." }] })
  .withResponse();
check("chat plain", chat.choices[0].message.content === "You said: I bench 185 lbs.", chat);
check("chat memory header", response.headers.get("x-memory-status") === "injected", Object.fromEntries(response.headers));

// Chat, streamed, with the usage chunk.
const stream = await client.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "system", content: [{ type: "text", text: "Be brief." }] }, { role: "user", content: "Stream me a reply please." }],
  stream: true,
  stream_options: { include_usage: true },
});
let text = "", usage = null, chunks = 0;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) {
    usage = chunk.usage;
    check("usage chunk has no choices", chunk.choices.length === 0, chunk);
  }
  for (const c of chunk.choices) text += c.delta.content ?? "";
}
check("chat stream text", text === "You said: Stream me a reply please.", text);
check("chat stream usage", chunks > 3 && usage && usage.total_tokens > 0, usage);

// Tool calls, streamed, through the SDK's helper.
const runner = client.chat.completions.stream({
  model: "gpt-4o-mini", tools,
  messages: [{ role: "user", content: "What's the weather in Paris?" }],
});
const final = await runner.finalChatCompletion();
const call = final.choices[0].message.tool_calls[0];
check("tool call stream", call.function.name === "get_weather" && JSON.parse(call.function.arguments).location === "Paris", call);

// Responses API, plain and streamed.
const resp = await client.responses.create({ model: "gpt-4o-mini", input: "I train on Mondays." });
check("responses plain", resp.output_text === "You said: I train on Mondays.", resp);
const rstream = client.responses.stream({ model: "gpt-4o-mini", input: [{ role: "user", content: "Stream a response please." }] });
const types = [];
for await (const e of rstream) types.push(e.type);
const rfinal = await rstream.finalResponse();
check("responses stream", types[0] === "response.created" && types.at(-1) === "response.completed" && rfinal.output_text === "You said: Stream a response please.", types);

// Passthrough: embeddings (base64 by default in the SDK) and models.
const emb = await client.embeddings.create({ model: "text-embedding-3-small", input: ["a text", "another"] });
check("embeddings", emb.data.length === 2 && emb.data[0].embedding.length === 64, emb.data.length);
const models = await client.models.list();
check("models", models.data.some((m) => m.id === "gpt-4o-mini"), models.data);

// Errors come through as the SDK's own exceptions.
try {
  await client.chat.completions.create({ model: "error-429", messages: [{ role: "user", content: "hi" }] });
  check("429 raises", false, "no exception");
} catch (e) {
  check("429 raises RateLimitError", e instanceof OpenAI.RateLimitError && e.status === 429, String(e));
}
try {
  const s = await client.chat.completions.create({ model: "error-inband", stream: true, messages: [{ role: "user", content: "hi" }] });
  for await (const _ of s) { /* drain */ }
  check("in-band error raises", false, "no exception");
} catch (e) {
  check("in-band stream error raises", String(e).includes("server had an error"), String(e));
}

console.log("ALL OK");
