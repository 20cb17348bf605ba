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


def mac_models(folder) -> dict[str, dict[str, int]]:
    """ONNX models covering every MAC-bearing op memscan counts, each node's MACs worked out
    here from the shapes chosen (docs/macs.md's convention). Returns path -> {node: MACs}."""
    from pathlib import Path

    f = TensorProto.FLOAT
    rng = np.random.default_rng(0)

    def w(name, *shape):
        return numpy_helper.from_array(rng.random(shape, dtype=np.float32), name)

    def save(name, nodes, inputs, outputs, inits, expected):
        g = helper.make_graph(nodes, name, inputs, outputs, inits)
        m = helper.make_model(g, producer_name="memscan-tests",
                              opset_imports=[helper.make_opsetid("", 17)])
        path = str(Path(folder) / f"{name}.onnx")
        onnx.save(m, path)
        out[path] = expected

    out: dict[str, dict[str, int]] = {}
    vi = helper.make_tensor_value_info
    # Convolutions: plain 3×3, grouped, depthwise, strided transposed.
    save("convs", [
        helper.make_node("Conv", ["x", "w1"], ["a"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "w2"], ["b"], name="grouped", group=4, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["b", "w3"], ["c"], name="depthwise", group=16,
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("ConvTranspose", ["c", "w4"], ["y"], name="deconv", strides=[2, 2]),
    ], [vi("x", f, [2, 3, 32, 32])], [vi("y", f, None)],
        [w("w1", 16, 3, 3, 3), w("w2", 32, 4, 3, 3), w("w3", 32, 2, 3, 3), w("w4", 32, 8, 2, 2)],
        {"conv": 2 * 16 * 32 * 32 * 3 * 3 * 3, "grouped": 2 * 32 * 32 * 32 * 4 * 3 * 3,
         "depthwise": 2 * 32 * 16 * 16 * 2 * 3 * 3,
         "deconv": 2 * 32 * 16 * 16 * 8 * 2 * 2})
    # Dense layers: Gemm with transB, a batched MatMul, an Einsum attention score.
    save("dense", [
        helper.make_node("Gemm", ["x", "wg", "bg"], ["h"], name="gemm", transB=1),
        helper.make_node("Reshape", ["h", "s"], ["h3"], name="split_heads"),
        helper.make_node("MatMul", ["h3", "wm"], ["q"], name="matmul"),
        helper.make_node("Einsum", ["q", "q"], ["y"], name="scores", equation="bik,bjk->bij"),
    ], [vi("x", f, [8, 64])], [vi("y", f, None)],
        [w("wg", 96, 64), w("bg", 96), numpy_helper.from_array(np.array([8, 6, 16]), "s"),
         w("wm", 16, 24)],
        {"gemm": 8 * 96 * 64, "matmul": 8 * 6 * 24 * 16, "scores": 8 * 6 * 6 * 24})
    # Recurrent layers: a bidirectional LSTM then a GRU, 10 steps, batch 3.
    save("recurrent", [
        helper.make_node("LSTM", ["x", "wl", "rl", "bl"], ["hs", "h_last", "c_last"], name="lstm",
                         hidden_size=12, direction="bidirectional"),
        helper.make_node("Reshape", ["hs", "s"], ["h2"], name="merge"),
        helper.make_node("GRU", ["h2", "wgru", "rgru", "bgru"], ["y", "y_last"], name="gru",
                         hidden_size=5),
    ], [vi("x", f, [10, 3, 7])], [vi("y", f, None)],
        [w("wl", 2, 48, 7), w("rl", 2, 48, 12), numpy_helper.from_array(np.array([10, 3, 24]), "s"),
         w("wgru", 1, 15, 24), w("rgru", 1, 15, 5), w("bl", 2, 96), w("bgru", 1, 30)],
        {"lstm": 10 * 3 * 2 * 4 * 12 * (7 + 12), "gru": 10 * 3 * 3 * 5 * (24 + 5)})
    return out
