"""Silence every network attempt of the libraries we use.

Must run before gradio, ragas, chromadb or transformers are imported; every
entry point calls :func:`go_offline` first. Values already set by the user win.
"""

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    # onnxruntime (the int8 encoder) sends usage events to Microsoft from its own threads since 1.29, on Linux
    # too; read once, when it starts (the network test caught the DNS look-ups)
    "ORT_DISABLE_TELEMETRY": "1",
}


def go_offline() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
