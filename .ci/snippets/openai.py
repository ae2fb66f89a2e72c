from byok_client import OpenAI

client = OpenAI(api_keys=["sk-one...", "sk-two...", "sk-three..."])  # every openai.OpenAI argument still works
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
