"""The HTTP API and the web explorer over one trained run (extra ``serve``: FastAPI and uvicorn).

- ``service.py``: the answers of a run without HTTP (``RetrievalService``), its request checks and limits;
- ``batching.py``: the one model thread and the micro-batching of concurrent retrieve requests;
- ``schemas.py``: the request and response bodies (pydantic);
- ``metrics.py``: Prometheus-format request metrics;
- ``app.py``: the FastAPI application (``create_app``), its error contract and security defaults;
- ``static/``: the explorer page (plain HTML, CSS and JavaScript; no build step).
"""
