"""Hosting a stage's network in NVIDIA Triton Inference Server (KServe v2 protocol).

Triton runs the network forward (the heavy, batchable part); the stage service keeps sampling,
guidance and the request's noise, so step-level batching and reproducibility stay as they are.
`networks` is what both sides agree on; `host` and `python_backend_model` run on the Triton side
(the .venv-triton interpreter); `client` and `stage_models` run in the stage service.
"""
