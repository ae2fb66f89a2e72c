from pydantic_ai import Agent
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

import byok_client

openai_client = byok_client.AsyncOpenAI(api_keys=["sk-first", "sk-second"])
agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(openai_client=openai_client)))
print(agent.run_sync("Hello").output)

anthropic_client = byok_client.AsyncAnthropic(api_keys=["sk-ant-first", "sk-ant-second"])
agent = Agent(AnthropicModel("claude-sonnet-4-6", provider=AnthropicProvider(anthropic_client=anthropic_client)))
print(agent.run_sync("Hello").output)
