"""Key sources: one module per place keys come from."""

from .env import env_keys, split_key_list

__all__ = ["env_keys", "split_key_list"]
