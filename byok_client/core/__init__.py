"""The pure failover core: keys, policy, health, selection, the per-request flow and the state interface.

Nothing here imports an HTTP library, an SDK, ``asyncio``, ``os`` or a key source (``tests/test_core_purity.py``
walks the imports). I/O lives in the transports, the sources and the state backends.
"""
