from byok_client import Anthropic

claude = Anthropic(api_keys=["sk-ant-one...", "sk-ant-two..."])  # subclass of anthropic.Anthropic
claude.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
