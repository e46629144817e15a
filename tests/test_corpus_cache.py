"""Corpus cache mode: the KV state is keyed by what it depends on, reused from disk, and rebuilt (with a
warning) when the file is corrupt or truncated: never stale, never a crash. Real model, a five-chunk corpus
so a build takes seconds, not the full article's minutes."""

from __future__ import annotations

import logging

import pytest

from assistant.corpus_cache import CorpusContext

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def parts(ingested_settings, retriever):
    from assistant.chain import build_chain

    chain = build_chain(ingested_settings, retriever)
    model = chain.llm
    chunks = [c for c in retriever.snapshot()[1] if c.kind == "text"][:5]
    return chain, model.engine, chunks


def _ctx(parts, tmp_path, chunks=None, system=None, model_id="default") -> CorpusContext:
    chain, engine, five = parts
    return CorpusContext(engine, system or chain.prompt.system_text(), chain.prompt.passage, chunks or five,
                         tmp_path, model_id)


def test_the_cache_is_keyed_by_corpus_prompt_and_model(parts, tmp_path) -> None:
    base = _ctx(parts, tmp_path)
    assert _ctx(parts, tmp_path).path == base.path
    assert _ctx(parts, tmp_path, chunks=parts[2][:4]).path != base.path  # a re-ingest changed the corpus
    assert _ctx(parts, tmp_path, system="Another prompt.").path != base.path
    assert _ctx(parts, tmp_path, model_id="other.gguf").path != base.path


def test_built_once_then_loaded_and_a_corrupt_file_is_rebuilt(parts, tmp_path, caplog) -> None:
    _, engine, _ = parts
    ctx = _ctx(parts, tmp_path)
    with engine.lock:
        assert ctx.ensure(progress=False) == "built" and ctx.path.is_file()
        assert ctx.ensure() == "memory"
        engine.rewind(0)
        assert ctx.ensure() == "disk" and ctx.cached()
        size = ctx.path.stat().st_size
        ctx.path.write_bytes(ctx.path.read_bytes()[: size // 2])  # truncated
        engine.rewind(0)
        with caplog.at_level(logging.WARNING):
            assert ctx.ensure(progress=False) == "built"
        assert "could not be loaded" in caplog.text and ctx.path.stat().st_size == size
        ctx.path.write_bytes(b"not a llama.cpp state file")
        engine.rewind(0)
        assert ctx.ensure(progress=False) == "built"
        data = bytearray(ctx.path.read_bytes())  # same size, damaged in the middle
        data[size // 2 : size // 2 + 64] = bytes(64)
        ctx.path.write_bytes(bytes(data))
        engine.rewind(0)
        assert ctx.ensure(progress=False) == "built"
        ctx.manifest.unlink()  # a save that died before its manifest was written
        engine.rewind(0)
        assert ctx.ensure(progress=False) == "built" and ctx.manifest.is_file()
        # an answer from the cached prefix costs only the question's tokens
        tokens = ctx.prompt("Question: What is this about?\nThe passages about this question: [1].")
        text = "".join(engine.generate(tokens, 24))
        assert text.strip() and engine.last.cached_tokens >= len(ctx.prefix)
