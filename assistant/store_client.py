"""Opening Chroma: the embedded store's folder or a server, each failure as a message the user can act on."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx

from assistant.settings import StoreSettings

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The store cannot be opened or used; the message is meant for the user."""


def unreachable(settings: StoreSettings, exc: BaseException) -> str:
    """The user-facing message for a Chroma server that refused, dropped or did not answer a request."""
    if isinstance(exc, httpx.TimeoutException):
        reason = f"no reply within {settings.chroma_timeout_s:g}s, setting store.chroma_timeout_s"
    else:
        reason = str(exc) or type(exc).__name__
    return (
        f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} ({reason}); "
        "check that it is running (`chroma run --path DIR --host HOST --port PORT`)"
    )


def open_client(settings: StoreSettings, create: bool):
    """The embedded store's client (its folder created only when ``create``), or the Chroma server's."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return _http_client(settings, chroma_settings)
    path = Path(settings.dir)
    if not path.exists():
        if not create:
            raise StoreError(f"no store at {path}: run `python ingest.py` first")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {path} ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise StoreError(f"the store path {path} is not a folder")
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:  # corrupt sqlite, permissions, lock held by another version...
        hint = ""
        if isinstance(exc, PermissionError) or "readonly" in str(exc).lower().replace("-", ""):
            # Chroma writes even to open a store (migrations, its log), so a read-only folder cannot be used
            hint = "; the store folder and its files must be writable, even for asking"
        raise StoreError(f"cannot open the store at {path} ({type(exc).__name__}: {exc}){hint}") from None


def _http_client(settings: StoreSettings, chroma_settings: Any):
    """A client of the Chroma server whose every request gives up after ``store.chroma_timeout_s``.

    chromadb's HTTP client has no timeout at all (``httpx.Client(timeout=None)``),
    so a server that accepts connections but never answers (stopped, overloaded)
    would hang the caller forever. Its constructor already sends requests, so
    the server is first probed with a timed heartbeat; then the client's own
    session gets the timeout.
    """
    import chromadb
    from chromadb.api.fastapi import FastAPI

    timeout = httpx.Timeout(settings.chroma_timeout_s)
    try:
        base = FastAPI.resolve_url(
            chroma_server_host=settings.chroma_host or "", chroma_server_http_port=settings.chroma_port,
            default_api_path=chroma_settings.chroma_server_api_default_path,
        )
        httpx.get(f"{base}/heartbeat", timeout=timeout).raise_for_status()
        client = chromadb.HttpClient(
            host=settings.chroma_host or "", port=settings.chroma_port, settings=chroma_settings
        )
    except (httpx.TransportError, ValueError) as exc:
        raise StoreError(unreachable(settings, exc)) from None
    except Exception as exc:  # an HTTP error status, a server of another version...
        raise StoreError(
            f"the Chroma server at {settings.chroma_host}:{settings.chroma_port} failed "
            f"({type(exc).__name__}: {exc})"
        ) from None
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = timeout
    else:  # a chromadb upgrade moved it: requests may then wait without limit
        log.warning("cannot set a timeout on the Chroma client (chromadb %s)", chromadb.__version__)
    return client
