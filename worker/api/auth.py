"""Who may read: on a loopback address everyone who reaches the port; on any other address
only a request carrying the token (``[api] token``, ``token_file`` or
``$NEWSDEDUP_API_TOKEN``), as ``Authorization: Bearer TOKEN`` or as the password of HTTP
Basic (what a browser can send). Without a token configured, a non-loopback listener
answers nothing but ``/healthz`` and ``/metrics``.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("192.0.2.7"), is_loopback("news.example")
    (False, False, False)
    >>> refusal("203.0.113.9", "s3cret-s3cret-s3cret", "Bearer s3cret-s3cret-s3cret") is None
    True
    >>> refusal("203.0.113.9", "s3cret-s3cret-s3cret", None)
    'this address needs the API token: send Authorization: Bearer TOKEN'
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from pathlib import Path

from worker.config import Config
from worker.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a listen address or a client's) is this machine only."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def configured_token(config: Config) -> str | None:
    """The token of ``config``: ``[api] token`` (or the environment's, which replaced it),
    else the content of ``token_file``; ``ConfigError`` when that file cannot be read."""
    if config.api.token is not None:
        return config.api.token
    if config.api.token_file is None:
        return None
    path = config.base_dir / Path(config.api.token_file)
    try:
        token = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"api.token_file: cannot read {path}: {exc}") from exc
    if len(token) < 16:
        raise ConfigError(f"api.token_file: {path} holds fewer than 16 characters")
    return token


def _presented(authorization: str | None) -> str | None:
    """The token a request carries: a Bearer token, or the password of Basic credentials."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def refusal(listen_host: str, token: str | None, authorization: str | None) -> str | None:
    """Why a request to a listener on ``listen_host`` is refused (``None``: it may read)."""
    if is_loopback(listen_host):
        return None
    if token is None:
        return (
            "the API is off on a non-loopback address until a token is set "
            "([api] token or $NEWSDEDUP_API_TOKEN)"
        )
    presented = _presented(authorization)
    if presented is None:
        return "this address needs the API token: send Authorization: Bearer TOKEN"
    if not hmac.compare_digest(presented.encode(), token.encode()):
        return "wrong API token"
    return None
