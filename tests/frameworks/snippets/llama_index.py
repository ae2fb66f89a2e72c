from llama_index.llms.openai import OpenAI

import byok_client

pool = byok_client.KeyPool(["sk-first", "sk-second"])
llm = OpenAI(
    model="gpt-4o-mini",
    api_key="managed-by-byok",  # any value: requests go out with a key from the pool
    http_client=byok_client.http_client("openai", key_pool=pool),
    async_http_client=byok_client.async_http_client("openai", key_pool=pool),
)
print(llm.complete("Hello").text)
