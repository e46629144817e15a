from pathlib import Path

import pytest

from assistant.model_file import DEFAULT_MODEL_FILE, DEFAULT_MODEL_SIZE, ModelError, model_path
from assistant.settings import Settings


def test_explicit_missing_model_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        model_path(Settings(llm={"model_path": tmp_path / "nope.gguf"}))


@pytest.mark.slow
def test_corrupt_cached_model_is_reassembled_and_verified(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / DEFAULT_MODEL_FILE).write_bytes(b"GGUF but truncated")
    path = model_path(Settings(model_cache_dir=cache))
    assert path == cache / DEFAULT_MODEL_FILE
    assert path.stat().st_size == DEFAULT_MODEL_SIZE
    assert path.read_bytes()[:4] == b"GGUF"
    stamp = path.with_suffix(".verified").read_text()
    assert stamp.split()[1] == str(DEFAULT_MODEL_SIZE)
    assert model_path(Settings(model_cache_dir=cache)) == path  # second call trusts the stamp
    assert not list(cache.glob(".*.part"))
