"""The official OpenAI Python SDK, pointed at memproxy.

Run by the Go test TestOpenAIPythonSDK, which starts a fake upstream and the
sidecar and sets MEMPROXY_URL. The app changes its base URL and adds two
headers; everything else is ordinary SDK code. Each check asserts; the Go
test then checks what the upstream received.
"""

import json
import os
import sys

import openai
from openai import OpenAI

BASE = os.environ["MEMPROXY_URL"] + "/v1"
client = OpenAI(
    base_url=BASE,
    api_key="sk-client-key",
    default_headers={"X-Memory-User-Id": "sarah", "X-Memory-Agent-Id": "fitcoach_v1"},
    max_retries=0,
)
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}]


def check(name, ok, detail=""):
    if not ok:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")


# Chat, plain. The raw response shows the sidecar's headers.
raw = client.chat.completions.with_raw_response.create(
    model="gpt-4o-mini",
    messages=[{"role": "system", "content": "You are a coach."},
              {"role": "user", "content": "I ran 12K this morning."}],
)
chat = raw.parse()
check("chat plain", chat.choices[0].message.content == "You said: I ran 12K this morning.", chat)
check("chat memory header", raw.headers.get("x-memory-status") == "injected", dict(raw.headers))
check("chat usage", chat.usage.total_tokens > 0, chat.usage)

# Chat, streamed, with the usage chunk.
stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Stream me a reply please."}],
    stream=True,
    stream_options={"include_usage": True},
)
text, usage, chunks = "", None, 0
for chunk in stream:
    chunks += 1
    if chunk.usage is not None:
        usage = chunk.usage
        check("usage chunk has no choices", chunk.choices == [], chunk)
    for c in chunk.choices:
        text += c.delta.content or ""
check("chat stream text", text == "You said: Stream me a reply please.", text)
check("chat stream chunks", chunks > 3, chunks)
check("chat stream usage", usage is not None and usage.total_tokens > 0, usage)

# Tool calls, plain and streamed.
chat = client.chat.completions.create(
    model="gpt-4o-mini", tools=TOOLS,
    messages=[{"role": "user", "content": "What's the weather in Paris?"}],
)
call = chat.choices[0].message.tool_calls[0]
check("tool call plain", call.function.name == "get_weather" and json.loads(call.function.arguments)["location"] == "Paris", call)

stream = client.chat.completions.create(
    model="gpt-4o-mini", tools=TOOLS, stream=True,
    messages=[{"role": "user", "content": "What's the weather in Paris?"}],
)
name, args, finish = "", "", None
for chunk in stream:
    for c in chunk.choices:
        for tc in c.delta.tool_calls or []:
            name += tc.function.name or ""
            args += tc.function.arguments or ""
        finish = c.finish_reason or finish
check("tool call stream", name == "get_weather" and json.loads(args)["location"] == "Paris" and finish == "tool_calls", (name, args, finish))

# Tool result round trip.
chat = client.chat.completions.create(
    model="gpt-4o-mini", tools=TOOLS,
    messages=[
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"},
    ],
)
check("tool result", chat.choices[0].message.content.startswith("You said"), chat)

# Responses API, plain and streamed.
resp = client.responses.create(model="gpt-4o-mini", input="I prefer running in the evening.", instructions="Be brief.")
check("responses plain", resp.output_text == "You said: I prefer running in the evening.", resp)

events, final = [], None
with client.responses.stream(model="gpt-4o-mini", input=[{"role": "user", "content": "Stream a response please."}]) as s:
    for event in s:
        events.append(event.type)
    final = s.get_final_response()
check("responses stream events", events[0] == "response.created" and events[-1] == "response.completed", events)
check("responses stream text", final.output_text == "You said: Stream a response please.", final)

stream = client.responses.create(model="gpt-4o-mini", input="Plain stream too.", stream=True)
deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
check("responses create(stream=True)", deltas == "You said: Plain stream too.", deltas)

# Passthrough: embeddings (the SDK asks for base64 and decodes it) and models.
emb = client.embeddings.create(model="text-embedding-3-small", input=["first text", "second text"])
check("embeddings", len(emb.data) == 2 and len(emb.data[0].embedding) == 64, emb.data[0])
models = client.models.list()
check("models", any(m.id == "gpt-4o-mini" for m in models.data), models)

# Errors come through as the SDK's own exceptions.
try:
    client.chat.completions.create(model="error-429", messages=[{"role": "user", "content": "hi"}])
    check("429 raises", False, "no exception")
except openai.RateLimitError as e:
    check("429 raises RateLimitError", e.status_code == 429 and "Rate limit" in str(e), e)

try:
    OpenAI(base_url=BASE, api_key="k", max_retries=0,
           default_headers={"X-Memory-User-Id": "sarah", "X-Memory-Mode": "sometimes"}).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    check("bad mode raises", False, "no exception")
except openai.BadRequestError as e:
    check("bad mode raises BadRequestError", "X-Memory-Mode" in str(e), e)

print("ALL OK")
