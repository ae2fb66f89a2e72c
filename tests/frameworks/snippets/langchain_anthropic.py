from functools import cached_property

from langchain_anthropic import ChatAnthropic

import byok_client

pool = byok_client.KeyPool(["sk-ant-first", "sk-ant-second"])


class PooledChatAnthropic(ChatAnthropic):
    """ChatAnthropic takes no client or HTTP client, so hand it byok_client's Anthropic clients."""

    @cached_property
    def _client(self) -> byok_client.Anthropic:
        return byok_client.Anthropic(**self._client_params, key_pool=pool)

    @cached_property
    def _async_client(self) -> byok_client.AsyncAnthropic:
        return byok_client.AsyncAnthropic(**self._client_params, key_pool=pool)


llm = PooledChatAnthropic(model="claude-sonnet-4-6", api_key="managed-by-byok")
print(llm.invoke("Hello").content)
