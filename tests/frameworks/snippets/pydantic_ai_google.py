from pydantic_ai import Agent
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.providers.google import GoogleProvider

from byok_client import genai

client = genai.Client(api_keys=["gemini-first", "gemini-second"])
agent = Agent(GoogleModel("gemini-2.5-flash", provider=GoogleProvider(client=client)))
print(agent.run_sync("Hello").output)
