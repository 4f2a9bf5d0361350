"""Tensor hop throughput: a stage image sent to another process's gRPC server and decoded there.

For each image size and wire dtype it times, per hop: encode (to_proto) + serialize + loopback gRPC
call + parse + decode with checks (from_proto) in the receiving process, and compares with a plain
in-memory copy of the same bytes. With shared memory, the bytes go through a region of the node's
shared memory instead (written by the sender, read with all checks by the receiver, removed by the
sender after the call). Prints a table; MB/s counts the tensor's bytes.

    python benchmarks/tensor_hop.py [--repeats 20] [--shared-memory-dir /dev/shm]
"""

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

import grpc
import numpy as np

from services.runtime.server import MAX_FRAME_SIZE
from services.runtime.shared_memory import SharedMemory
from services.runtime.tensor_codec import from_proto, to_proto
from unclip.v1 import tensor_pb2

LIMIT = 256 * 1024 * 1024
OPTIONS = [
    ("grpc.max_send_message_length", LIMIT),
    ("grpc.max_receive_message_length", LIMIT),
    ("grpc.http2.max_frame_size", MAX_FRAME_SIZE),
]


async def serve(shared: SharedMemory) -> None:
    """The receiving side: prints its port, serves until killed."""

    async def receive(request: tensor_pb2.Tensor, context) -> tensor_pb2.Tensor:
        from_proto(request, "images", shared=shared)
        return tensor_pb2.Tensor()

    server = grpc.aio.server(options=OPTIONS)
    handler = grpc.method_handlers_generic_handler(
        "bench.Hop",
        {
            "Send": grpc.unary_unary_rpc_method_handler(
                receive,
                request_deserializer=tensor_pb2.Tensor.FromString,
                response_serializer=tensor_pb2.Tensor.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
    print(server.add_insecure_port("127.0.0.1:0"), flush=True)
    await server.start()
    await server.wait_for_termination()


def median_seconds(action, repeats: int) -> float:
    action()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(port: int, repeats: int, shared: SharedMemory) -> list[tuple]:
    rows = []
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS) as channel:
        send = channel.unary_unary(
            "/bench.Hop/Send",
            request_serializer=tensor_pb2.Tensor.SerializeToString,
            response_deserializer=tensor_pb2.Tensor.FromString,
        )

        def through_shared_memory(image: np.ndarray) -> None:
            message = to_proto(image, shared)
            try:
                send(message)
            finally:
                shared.remove(message.shared_memory)

        for side in (64, 256, 1024):
            for dtype in (np.float32, np.float16, np.uint8):
                image = np.random.default_rng(0).random((1, 3, side, side)).astype(dtype)
                hop = median_seconds(lambda image=image: send(to_proto(image)), repeats)
                shared_hop = median_seconds(lambda image=image: through_shared_memory(image), repeats)
                copy = median_seconds(image.copy, repeats)
                megabytes = image.nbytes / 1e6
                rows.append(
                    (
                        side,
                        np.dtype(dtype).name,
                        megabytes,
                        hop * 1000,
                        megabytes / hop,
                        shared_hop * 1000,
                        megabytes / shared_hop,
                        megabytes / copy,
                    )
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--shared-memory-dir",
        default="/dev/shm",
        help="a tmpfs both processes see (every tensor goes through it in that column)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shared = SharedMemory(args.shared_memory_dir, min_bytes=0)
    if args.serve:
        asyncio.run(serve(shared))
        return
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--shared-memory-dir", args.shared_memory_dir],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        rows = measure(int(receiver.stdout.readline()), args.repeats, shared)
    finally:
        receiver.kill()
    print(
        "| image | dtype | MB | gRPC hop ms | gRPC MB/s | shared-memory hop ms | shared-memory MB/s "
        "| memcpy MB/s |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for side, dtype, megabytes, millis, hop_rate, shared_millis, shared_rate, copy_rate in rows:
        print(
            f"| {side}x{side} | {dtype} | {megabytes:.2f} | {millis:.2f} | {hop_rate:,.0f} | "
            f"{shared_millis:.2f} | {shared_rate:,.0f} | {copy_rate:,.0f} |"
        )


if __name__ == "__main__":
    main()
