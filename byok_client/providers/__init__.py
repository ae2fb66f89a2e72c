"""Provider specifics: where the key goes and how each provider's errors read."""

from .base import Provider
from .openai import OpenAIProvider

__all__ = ["OpenAIProvider", "Provider"]
