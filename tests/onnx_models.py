"""Small ONNX models built on the fly for tests (onnx.helper; a few KB each)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_cnn(path, reshape_target=(1, -1), hw=16, opset=17) -> int:
    """x[N,3,H,W] → Conv(8, 3×3, same) → Relu → Reshape(target) → MatMul(8·hw·hw, 10).

    Returns the number of stored weight elements."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [
        numpy_helper.from_array(rng.random((8, 3, 3, 3), dtype=np.float32), "conv.weight"),
        numpy_helper.from_array(rng.random(8, dtype=np.float32), "conv.bias"),
        numpy_helper.from_array(np.array(reshape_target, dtype=np.int64), "shape"),
        numpy_helper.from_array(rng.random((8 * hw * hw, 10), dtype=np.float32), "fc.weight"),
    ]
    nodes = [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv",
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "fc.weight"], ["y"], name="fc")]
    g = helper.make_graph(nodes, "tiny", [x], [y], inits)
    m = helper.make_model(g, producer_name="memscan-tests",
                          opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(m, str(path))
    return sum(int(np.prod(t.dims)) for t in inits)


def big_matmuls(path, megabytes: int, external: str | None = None) -> int:
    """x[1,K] through a chain of K×K float32 MatMuls totalling about ``megabytes`` MB.

    Returns the element count of the weights. The weight bytes are written straight into
    the protobuf (raw_data) without keeping more than one matrix in memory at a time."""
    k = 2048
    per = k * k * 4
    count = max(1, megabytes * 1_000_000 // per)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])
    y = helper.make_tensor_value_info(f"h{count}", TensorProto.FLOAT, [1, k])
    nodes, inits = [], []
    block = np.ones((k, k), dtype=np.float32)
    for i in range(count):
        inits.append(numpy_helper.from_array(block, f"w{i}"))
        nodes.append(helper.make_node("MatMul", ["x" if i == 0 else f"h{i}", f"w{i}"],
                                      [f"h{i + 1}"], name=f"mm{i}"))
    g = helper.make_graph(nodes, "big", [x], [y], inits)
    m = helper.make_model(g, producer_name="memscan-bench",
                          opset_imports=[helper.make_opsetid("", 17)])
    if external:
        onnx.save_model(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=external, size_threshold=1024)
    else:
        onnx.save(m, str(path))
    return count * k * k
