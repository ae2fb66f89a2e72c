from agents import Agent, Runner, set_default_openai_client

import byok_client

# use_for_tracing=False: traces are uploaded with a key of their own (OPENAI_API_KEY or set_tracing_export_api_key)
set_default_openai_client(byok_client.AsyncOpenAI(api_keys=["sk-first", "sk-second"]), use_for_tracing=False)
agent = Agent(name="assistant", instructions="Answer briefly.", model="gpt-4o-mini")
print(Runner.run_sync(agent, "Hello").final_output)
