import byok_client

with byok_client.http_client("openai", api_keys=["sk-first", "sk-second"]) as client:
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
    reply = client.post("/chat/completions", json=chat)
    print(reply.json()["choices"][0]["message"]["content"])
