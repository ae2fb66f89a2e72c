"""byok_client in one screen: two keys, the first rate-limited, on the bundled MockProvider (no network).

Run with ``make demo`` (``byok demo``) or ``python examples/quickstart.py``; the code is in
``byok_client/cli/demo.py``.
"""

from __future__ import annotations

from byok_client.cli.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
