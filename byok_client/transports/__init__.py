"""Transport shells. Import ``byok_client.transports.httpx2`` (or ``.httpx`` for legacy SDK lines) directly."""

__all__: list[str] = []
