"""Which line (major version) of each SDK is installed, and the adapter module that holds that line's specifics.

Every SDK-line difference byok_client knows of lives in one adapter module per line (``openai_v1`` ...
``genai_v3``); the client classes stay generic. Choosing a line reads only the installed distribution's metadata,
so it imports neither the SDK nor an HTTP library.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..._errors import ByokError

__all__ = [
    "SUPPORTED",
    "Line",
    "UnsupportedSDKVersionError",
    "adapter",
    "installed_version",
    "merge_signature",
    "supported",
]


@dataclass(frozen=True)
class Line:
    """One supported SDK line: its distribution, major version, oldest supported release and HTTP library."""

    distribution: str
    major: int
    oldest: str
    http_library: str  # the library the SDK's own clients use by default on this line
    module: str  # the adapter module under byok_client.clients._lines

    def describe(self) -> str:
        return f"{self.major}.x (>= {self.oldest})"


# The oldest release of each line is the oldest tested by .ci/sdk_matrix.sh.
SUPPORTED: dict[str, tuple[Line, ...]] = {
    "openai": (
        Line("openai", 1, "1.108.1", "httpx", "openai_v1"),
        Line("openai", 2, "2.0.0", "httpx", "openai_v2"),
        Line("openai", 3, "3.0.0", "httpx2", "openai_v3"),
    ),
    "anthropic": (
        Line("anthropic", 0, "0.80.0", "httpx", "anthropic_v0"),
        Line("anthropic", 1, "1.0.0", "httpx2", "anthropic_v1"),
        Line("anthropic", 2, "2.0.0", "httpx2", "anthropic_v2"),
    ),
    "google-genai": (
        Line("google-genai", 2, "2.0.0", "httpx", "genai_v2"),
        Line("google-genai", 3, "3.0.0", "httpx2", "genai_v3"),
    ),
}


class UnsupportedSDKVersionError(ByokError, ImportError):
    """The installed SDK is outside the lines byok_client supports; the message names both."""

    def __init__(self, distribution: str, installed: str, extra: str) -> None:
        ranges = ", ".join(line.describe() for line in SUPPORTED[distribution])
        super().__init__(
            f"{distribution} {installed} is installed, but byok_client supports {distribution} {ranges}; "
            f"upgrade it with: pip install -U 'byok-client[{extra}]'"
        )
        self.distribution = distribution
        self.installed = installed
        self.extra = extra


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string: ``3.0.0rc1`` -> (3, 0, 0)."""
    parts = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.end() != len(part):
            break  # a pre/post/dev suffix ends the release part
    return tuple(parts)


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def supported(distribution: str) -> Line | None:
    """The line of the installed ``distribution`` if that release is supported (None if absent or unsupported)."""
    version = installed_version(distribution)
    if version is None:
        return None
    release = _release(version)
    for line in SUPPORTED[distribution]:
        if release[:1] == (line.major,) and release >= _release(line.oldest):
            return line
    return None


_EXTRAS = {"openai": "openai", "anthropic": "anthropic", "google-genai": "google"}


def adapter(distribution: str) -> ModuleType:
    """The adapter module for the installed line of ``distribution``.

    Raises ``UnsupportedSDKVersionError`` naming the installed version and the supported lines when that release
    is older (or of a newer major line) than byok_client supports.
    """
    line = supported(distribution)
    if line is None:
        version = installed_version(distribution)
        if version is None:  # importing the SDK raises the ModuleNotFoundError byok_client turns into its error
            raise ModuleNotFoundError(f"No module named {distribution!r}", name=distribution.replace("-", "."))
        raise UnsupportedSDKVersionError(distribution, version, _EXTRAS[distribution])
    return importlib.import_module(f"{__name__}.{line.module}")


def _sdk_parameters(function: Callable[..., Any]) -> list[inspect.Parameter]:
    """The SDK's own parameters with evaluated annotations where the SDK's names allow it."""
    try:
        signature = inspect.signature(function, eval_str=True)
    except (NameError, TypeError, SyntaxError):  # an SDK annotation names something only its type checker sees
        signature = inspect.signature(function)
    return list(signature.parameters.values())


def merge_signature(ours: Callable[..., Any], sdk: Callable[..., Any], replaced: Iterable[str] = ()) -> None:
    """Give ``ours`` (which takes byok arguments and ``**kwargs``) the installed SDK's exact keyword signature
    plus its own byok arguments, so introspection (and the SDKs' own signature tests) see the SDK's parameters.

    ``replaced`` names SDK parameters whose meaning ``ours`` widens (anthropic's ``config``): ours wins.
    """
    own = inspect.signature(ours, eval_str=True)
    byok = [p for p in own.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    byok_names = {p.name for p in byok}
    skip = byok_names & set(replaced)
    params = [p for p in _sdk_parameters(sdk) if p.kind is not inspect.Parameter.VAR_KEYWORD and p.name not in skip]
    names = {p.name for p in params}
    params += [p for p in byok if p.name not in names]
    ours.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
