import json
import os
import time
import urllib.request

from openai import OpenAI

SIDECAR = os.environ.get("MEMPROXY_URL", "http://127.0.0.1:8080")

# 1. The operator writes FitCoach's persona once, for every user (the memory API).
urllib.request.urlopen(urllib.request.Request(
    f"{SIDECAR}/v1/memories/",
    headers={"Authorization": f"Token {os.environ['MEM0_API_KEY']}", "Content-Type": "application/json"},
    data=json.dumps({
        "messages": [{"role": "user", "content": "I'm FitCoach - supportive, motivational, celebrates small wins."}],
        "agent_id": "fitcoach_v1",
    }).encode(),
))


# 2. The app: the usual OpenAI client, with the sidecar as base URL and two headers.
def coach_for(user_id):
    return OpenAI(
        base_url=f"{SIDECAR}/v1",
        api_key=os.environ["OPENAI_API_KEY"],
        default_headers={"X-Memory-User-Id": user_id, "X-Memory-Agent-Id": "fitcoach_v1"},
    )


def chat(client, text):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "You're a supportive fitness coach."},
                  {"role": "user", "content": text}],
    )
    print(f"[memory: {raw.headers['x-memory-status']}]", raw.parse().choices[0].message.content)


sarah, mike = coach_for("sarah"), coach_for("mike")
chat(sarah, "My goal is to run a half marathon by June.")  # learned, privately, for Sarah
chat(mike, "Bench press: 185 lbs x 10 reps, 3 sets.")     # learned for Mike only

time.sleep(0.5)  # learning happens in the background, after each answer

# 3. Sarah's next request carries FitCoach's persona and her goal; Mike's never carries hers.
chat(sarah, "Just finished my run today!")
