"""Tensor hop throughput: a stage image sent to another process's gRPC server and decoded there.

For each image size and wire dtype it times: encode (to_proto) + serialize + loopback gRPC call +
parse + decode (from_proto) on the receiving side, and compares with a plain in-memory copy of the
same bytes. Prints a table; MB/s counts the tensor's bytes.

    python benchmarks/tensor_hop.py [--repeats 20]
"""

import argparse
import asyncio
import statistics
import time

import grpc
import numpy as np

from services.runtime.server import MAX_FRAME_SIZE
from services.runtime.tensor_codec import from_proto, to_proto
from unclip.v1 import tensor_pb2

METHOD = "/bench.Hop/Send"
LIMIT = 256 * 1024 * 1024


async def _receive(request: bytes, context) -> bytes:
    from_proto(tensor_pb2.Tensor.FromString(request), "images")
    return b""


async def _serve() -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", LIMIT),
                                      ("grpc.http2.max_frame_size", MAX_FRAME_SIZE)])
    handler = grpc.method_handlers_generic_handler(
        "bench.Hop", {"Send": grpc.unary_unary_rpc_method_handler(_receive)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def measure(repeats: int) -> list[tuple]:
    server, port = await _serve()
    rows = []
    options = [("grpc.max_send_message_length", LIMIT), ("grpc.http2.max_frame_size", MAX_FRAME_SIZE)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        send = channel.unary_unary(METHOD)
        for side in (64, 256, 1024):
            for dtype in (np.float32, np.float16, np.uint8):
                image = np.random.default_rng(0).random((1, 3, side, side)).astype(dtype)
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    await send(to_proto(image).SerializeToString())
                    times.append(time.perf_counter() - started)
                copies = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    image.copy()
                    copies.append(time.perf_counter() - started)
                megabytes = image.nbytes / 1e6
                hop, copy = statistics.median(times), statistics.median(copies)
                rows.append((side, np.dtype(dtype).name, megabytes, hop * 1000, megabytes / hop,
                             megabytes / copy))
    await server.stop(None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rows = asyncio.run(measure(args.repeats))
    print("| image | dtype | MB | hop ms (median) | hop MB/s | memcpy MB/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for side, dtype, megabytes, millis, hop_rate, copy_rate in rows:
        print(f"| {side}x{side} | {dtype} | {megabytes:.2f} | {millis:.2f} | {hop_rate:,.0f} | "
              f"{copy_rate:,.0f} |")


if __name__ == "__main__":
    main()
