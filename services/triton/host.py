"""`unclip-mesh triton serve STAGE`: a stage's network in a real Triton server, through PyTriton.

Runs under the Triton venv's interpreter (scripts/triton-venv.sh): PyTriton's Python-backend stub
needs Debian's libpython3.11. Triton's dynamic batcher merges concurrent infer calls (several stage
replicas, or one replica's chunks) into one forward. Prints `unclip-mesh triton STAGE listening on
HOST:PORT` (the gRPC port, on a line of its own) once the model is ready, and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable

import numpy as np

from services.triton.networks import NetworkSpec, network_spec
from services.triton.options import add_model_arguments

NUMPY_TYPES = {"FP32": np.float32, "INT64": np.int64, "BOOL": np.bool_}


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address Triton binds (default 127.0.0.1)")
    parser.add_argument("--grpc-port", type=int, default=8001, help="KServe v2 gRPC port (8001)")
    parser.add_argument("--http-port", type=int, default=8000, help="KServe v2 HTTP port (8000)")
    parser.add_argument("--metrics-port", type=int, default=8002, help="Prometheus metrics port (8002)")
    parser.add_argument("--device", default="cpu", help="torch device of the network (cpu, cuda)")
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch intra-op threads, 0 keeps torch's default"
    )
    parser.add_argument(
        "--allow-shared-memory",
        action="store_true",
        help="let clients register system shared memory (same-node stage services "
        "with --triton-shared-memory system); PyTriton restricts it by default",
    )


def _infer_function(spec: NetworkSpec, load: Callable) -> Callable:
    from pytriton.decorators import batch

    run = load()

    @batch
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        return {spec.output.name: run(inputs)}

    return infer


def announce(line: str) -> None:
    """Writes `line` on a line of its own in one write(2).

    tritonserver logs to the same stdout from its own process, so a print's separate writes can land
    inside one of its log lines; one write of at most PIPE_BUF bytes to a pipe is never split, and the
    leading newline ends whatever partial log line came before.
    """
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), f"\n{line}\n".encode())


def _interrupt(*_) -> None:
    raise KeyboardInterrupt  # PyTriton's serve() stops the server on it


def serve(args: argparse.Namespace) -> int:
    import torch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import DEFAULT_PROTECTED_ENDPOINTS, Triton, TritonConfig, TritonSecurityConfig

    from services.bundle.loader import open_bundle
    from services.triton.python_backend_model import NetworkRunner

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    spec = network_spec(args.stage)
    bundle = open_bundle(args.bundle)
    bundle.verify(spec.stage)

    def load() -> NetworkRunner:
        return bundle.load(
            spec.stage,
            spec.role,
            lambda folder: NetworkRunner(folder, spec.network_class, spec.output_attribute, args.device),
        )

    config = TritonConfig(
        grpc_address=args.host,
        grpc_port=args.grpc_port,
        http_address=args.host,
        http_port=args.http_port,
        metrics_address=args.host,
        metrics_port=args.metrics_port,
    )
    restricted = [
        endpoint
        for endpoint in DEFAULT_PROTECTED_ENDPOINTS
        if not (args.allow_shared_memory and endpoint == "shared-memory")
    ]
    signal.signal(signal.SIGTERM, _interrupt)
    with Triton(
        config=config, security_config=TritonSecurityConfig(restricted_endpoints=restricted)
    ) as triton:
        triton.bind(
            model_name=args.model_name or spec.stage,
            infer_func=[_infer_function(spec, load) for _ in range(args.instances)],
            inputs=[Tensor(name=t.name, dtype=NUMPY_TYPES[t.datatype], shape=t.dims) for t in spec.inputs],
            outputs=[
                Tensor(name=spec.output.name, dtype=NUMPY_TYPES[spec.output.datatype], shape=spec.output.dims)
            ],
            config=ModelConfig(
                max_batch_size=args.max_batch_size,
                batcher=DynamicBatcher(max_queue_delay_microseconds=args.max_queue_delay_us),
            ),
            strict=True,
        )
        triton.run()
        announce(f"unclip-mesh triton {spec.stage} listening on {args.host}:{args.grpc_port}")
        triton.serve()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="unclip-mesh triton serve")
    add_model_arguments(parser)
    add_server_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
