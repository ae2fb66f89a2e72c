import instructor

import byok_client

client = instructor.from_openai(byok_client.OpenAI(api_keys=["sk-first", "sk-second"]))
reply = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Hello"}],
    response_model=None,  # or a pydantic model for structured output
)
print(reply.choices[0].message.content)
