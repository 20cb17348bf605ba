"""memscan's training estimate against one measured training step (issue 13 item 7).

    python bench/accuracy.py --modes training [MODEL ...] [--json F] [--markdown F]
    python bench/accuracy_training.py [MODEL ...] [--json F] [--markdown F]   # the same

Per model, in a fresh subprocess: Keras 3 on the torch backend builds it (``weights=None``),
saves the ``.keras`` file memscan reads, builds Adam's slots, runs one unprofiled warm-up
step, drops the gradients, then runs one step under ``torch.profiler.profile(
profile_memory=True)``: forward (``training=True``), mean-squared-error loss against zeros,
``loss.backward()``, ``optimizer.apply``.

What is measured: with memory profiling on, torch's CPU allocator reports every allocation
and free (c10 ``ProfiledCPUMemoryReporter::New``/``Delete``) with a running total of the
bytes it handed out *while profiling* and not yet freed ("Total Allocated" of the trace's
``[memory]`` events). Weights, Adam's slots and the batch exist before the step, so they are
not in it; what is in it is what the step itself adds:

- ``kept``: the total at the end of the forward pass (the last event before
  ``loss.backward()`` starts): the tensors autograd saved for the backward pass, plus the
  model's output and the loss (a few bytes);
- ``step peak``: the highest total during the step: kept activations + gradients + the
  backward's transient tensors (gradients of activations, recomputed temporaries).

memscan's corresponding figures at the same batch: ``training_activation_bytes`` minus the
input (the batch is allocated before the step), and that plus ``gradient_bytes``. The whole
training figure is compared too: measured = bytes of every model variable and optimizer
variable (``tensor.nbytes``, counted before the step) + the step peak + the input batch.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "accuracy_training"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import _mib, _r, _ratio  # noqa: E402  (one formatting for every table)

BATCH = 2


def _apps(name: str, size: int, **kw: Any) -> Callable[[], Any]:
    def build():
        import keras
        return getattr(keras.applications, name)(weights=None, include_top=False,
                                                 pooling="avg", input_shape=(size, size, 3),
                                                 **kw)
    return build


def _transformer() -> Any:
    from models import transformer
    return transformer(64, 64)


def _lstm() -> Any:
    import keras
    inp = keras.Input((64, 32))
    x = keras.layers.LSTM(64, return_sequences=True)(inp)
    x = keras.layers.LSTM(64, return_sequences=True)(x)
    return keras.Model(inp, keras.layers.Dense(8)(x), name="lstm")


def _cnn() -> Any:
    import keras
    L = keras.layers
    inp = keras.Input((64, 64, 3))
    x = inp
    for f in (16, 32, 64):
        x = L.Conv2D(f, 3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.MaxPooling2D()(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(10)(x), name="cnn")


#: name -> (builder, input shape without the batch, split). The split was fixed before any
#: change to the training estimate: rules are worked out on "tuning", reported on both.
MODELS: dict[str, tuple[Callable[[], Any], tuple[int, ...], str]] = {
    "cnn": (_cnn, (64, 64, 3), "tuning"),
    "MobileNetV2": (_apps("MobileNetV2", 96, alpha=0.35), (96, 96, 3), "tuning"),
    "ResNet50": (_apps("ResNet50", 64), (64, 64, 3), "tuning"),
    "transformer": (_transformer, (64, 64), "tuning"),
    "DenseNet121": (_apps("DenseNet121", 64), (64, 64, 3), "held-out"),
    "EfficientNetB0": (_apps("EfficientNetB0", 64), (64, 64, 3), "held-out"),
    "MobileNetV3Small": (_apps("MobileNetV3Small", 96), (96, 96, 3), "held-out"),
    "lstm": (_lstm, (64, 32), "held-out"),
}


def measure_in_process(name: str, keras_path: str) -> dict[str, Any]:
    """Build, save, run one profiled training step (runs in a subprocess)."""
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    torch.set_num_threads(1)
    builder, shape, _ = MODELS[name]
    model = builder()
    model.save(keras_path)
    opt = keras.optimizers.Adam(1e-3)
    opt.build(model.trainable_variables)
    x = torch.zeros((BATCH, *shape))
    out_shape = (BATCH, *model.outputs[0].shape[1:])
    y = torch.zeros(out_shape)
    variables = model.variables

    def step():
        for v in model.trainable_variables:
            v.value.grad = None
        with record_function("memscan_forward"):
            loss = torch.mean((model(x, training=True) - y) ** 2)
        with record_function("memscan_backward"):
            loss.backward()
        with record_function("memscan_apply"):
            with torch.no_grad():
                opt.apply([v.value.grad for v in model.trainable_variables],
                          model.trainable_variables)

    step()  # warm-up: lazy allocations, first-call caches
    for v in model.trainable_variables:
        v.value.grad = None
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    trace = os.path.join(tempfile.mkdtemp(prefix="memscan-prof-"), "trace.json")
    prof.export_chrome_trace(trace)
    with open(trace) as fh:
        events = json.load(fh)["traceEvents"]
    mem = sorted((e for e in events if e.get("name") == "[memory]"
                  and e.get("args", {}).get("Device Type") == 0), key=lambda e: e["ts"])
    backward = min(e["ts"] for e in events if e.get("name") == "memscan_backward")
    total = [_total(e) - _base(mem[0]) for e in mem]
    before_backward = [t for e, t in zip(mem, total) if e["ts"] < backward]
    return {"kept_bytes": before_backward[-1] if before_backward else 0,
            "step_peak_bytes": max(total, default=0),
            "variable_bytes": sum(v.value.nbytes for v in variables),
            "optimizer_bytes": sum(v.value.nbytes for v in opt.variables),
            "input_bytes": x.nbytes, "memory_events": len(mem),
            "trainable_bytes": sum(v.value.nbytes for v in model.trainable_variables)}


def _total(event: dict[str, Any]) -> int:
    return int(event["args"]["Total Allocated"])


def _base(first: dict[str, Any]) -> int:
    """The running total before the first event of a profiling session (the reporter's
    total is process-wide, so it may start above zero)."""
    return _total(first) - int(first["args"]["Bytes"])


#: One-layer probes: what autograd keeps per Keras layer, in units of the layer's output.
PROBES = ("Conv2D", "Conv2D(use_bias=False)", "DepthwiseConv2D", "BatchNormalization", "ReLU",
          "Activation(swish)", "Activation(gelu)", "Activation(sigmoid)", "MaxPooling2D",
          "Dense", "Add", "LayerNormalization")


def probe_layers() -> dict[str, float]:
    """Bytes alive after a forward pass of one layer on a (2, 64, 64, 16) input that needs a
    gradient, over the bytes of the layer's output (runs in a subprocess; the input is
    allocated before profiling, so only what the layer adds is counted)."""
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(1)
    L = keras.layers
    make = {"Conv2D": lambda x: L.Conv2D(16, 3, padding="same")(x),
            "Conv2D(use_bias=False)": lambda x: L.Conv2D(16, 3, padding="same",
                                                         use_bias=False)(x),
            "DepthwiseConv2D": lambda x: L.DepthwiseConv2D(3, padding="same")(x),
            "BatchNormalization": lambda x: L.BatchNormalization()(x),
            "ReLU": lambda x: L.ReLU()(x),
            "Activation(swish)": lambda x: L.Activation("swish")(x),
            "Activation(gelu)": lambda x: L.Activation("gelu")(x),
            "Activation(sigmoid)": lambda x: L.Activation("sigmoid")(x),
            "MaxPooling2D": lambda x: L.MaxPooling2D()(x),
            "Dense": lambda x: L.Dense(16)(x),
            "Add": lambda x: L.Add()([x, x]),
            "LayerNormalization": lambda x: L.LayerNormalization()(x)}
    out: dict[str, float] = {}
    x = torch.zeros((2, 64, 64, 16), requires_grad=True)
    for name in PROBES:
        inp = keras.Input((64, 64, 16))
        model = keras.Model(inp, make[name](inp))
        model(x, training=True)  # warm-up
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            y = model(x, training=True)
        trace = os.path.join(tempfile.mkdtemp(prefix="memscan-prof-"), "trace.json")
        prof.export_chrome_trace(trace)
        with open(trace) as fh:
            mem = [e for e in json.load(fh)["traceEvents"] if e.get("name") == "[memory]"]
        mem.sort(key=lambda e: e["ts"])
        kept = _total(mem[-1]) - _base(mem[0]) if mem else 0
        out[name] = kept / y.nbytes
        del y
    return out


def measure(name: str) -> tuple[Path, dict[str, Any]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.keras"
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="")
    with tempfile.TemporaryDirectory(prefix="memscan-train-") as tmpdir:
        proc = subprocess.run([sys.executable, __file__, "--measure", name, str(path)],
                              capture_output=True, text=True, env=env, cwd=tmpdir)
    if proc.returncode != 0:
        return path, {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return path, json.loads(proc.stdout.strip().splitlines()[-1])


def estimate(path: Path, shape: tuple[int, ...]) -> dict[str, Any]:
    from analyzer.analysis import analyse
    from analyzer.errors import MemscanError
    from analyzer.inputs import InputArg

    try:
        t = analyse(str(path), inputs=[InputArg(None, shape[1:])], batch=shape[0],
                    optimizer="adam").totals
    except MemscanError as exc:
        return {"error": str(exc)}
    kept = t.training_activation_bytes - t.input_bytes
    return {"kept_bytes": kept, "step_peak_bytes": kept + t.gradient_bytes,
            "training_bytes": t.training_bytes, "param_bytes": t.param_bytes,
            "gradient_bytes": t.gradient_bytes, "optimizer_bytes": t.optimizer_state_bytes,
            "input_bytes": t.input_bytes, "complete": t.complete}


def run(name: str) -> dict[str, Any]:
    _, shape, split = MODELS[name]
    t0 = time.time()
    path, meas = measure(name)
    row: dict[str, Any] = {"model": name, "split": split, "input": [BATCH, *shape],
                           "measured": meas}
    if "error" in meas:
        return {**row, "error": meas["error"]}
    est = estimate(path, (BATCH, *shape))
    meas["training_bytes"] = (meas["variable_bytes"] + meas["optimizer_bytes"]
                              + meas["step_peak_bytes"] + meas["input_bytes"])
    return {**row, "estimate": est,
            **{f"{k}_ratio": _ratio(est.get(k), meas.get(k))
               for k in ("kept_bytes", "step_peak_bytes", "training_bytes")},
            "seconds": round(time.time() - t0, 1)}


def reestimate(results: list[dict[str, Any]]) -> None:
    """Recompute memscan's side of saved results (the .keras files are cached)."""
    for r in results:
        if "estimate" in r:
            r["estimate"] = estimate(CACHE / f"{r['model']}.keras", tuple(r["input"]))
            for k in ("kept_bytes", "step_peak_bytes", "training_bytes"):
                r[f"{k}_ratio"] = _ratio(r["estimate"].get(k), r["measured"].get(k))


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| split | model | input | kept: memscan MiB | measured MiB | ratio | "
             "step peak: memscan MiB | measured MiB | ratio | training: memscan MiB | "
             "measured MiB | ratio |", "|---|---|---|" + "---:|" * 9]
    for r in results:
        shape = "×".join(map(str, r["input"]))
        if "error" in r:
            lines.append(f"| {r['split']} | {r['model']} | {shape} | failed: "
                         f"{r['error'][:60]} |" + " |" * 8)
            continue
        e, m = r["estimate"], r["measured"]
        lines.append(f"| {r['split']} | {r['model']} | {shape} | " + " | ".join(
            f"{_mib(e.get(k))} | {_mib(m.get(k))} | {_r(r.get(k + '_ratio'))}"
            for k in ("kept_bytes", "step_peak_bytes", "training_bytes")) + " |")
    return "\n".join(lines) + "\n"


def summary(results: list[dict[str, Any]]) -> str:
    out = []
    for split in ("tuning", "held-out"):
        rs = [r for r in results if r["split"] == split and "error" not in r]
        if rs:
            out.append(f"{split}: " + "; ".join(
                f"{k} ratio {min(r[k + '_ratio'] for r in rs):.3f}-"
                f"{max(r[k + '_ratio'] for r in rs):.3f}"
                for k in ("kept_bytes", "step_peak_bytes", "training_bytes")))
    return "\n".join(out) or "no results"


def main(models: Optional[list[str]] = None, json_out: Optional[str] = None,
         markdown_out: Optional[str] = None, from_json: Optional[list[str]] = None,
         reestimate_saved: bool = False) -> int:
    if from_json:
        results = [r for f in from_json for r in json.loads(Path(f).read_text())]
        if reestimate_saved:
            reestimate(results)
        if json_out:
            Path(json_out).write_text(json.dumps(results, indent=1))
    else:
        results = []
        for name in models or list(MODELS):
            r = run(name)
            results.append(r)
            print(f"{r['split']:<8} {name:<17} kept {_r(r.get('kept_bytes_ratio'))} "
                  f"step {_r(r.get('step_peak_bytes_ratio'))} "
                  f"training {_r(r.get('training_bytes_ratio'))}  {r.get('error', '')}",
                  flush=True)
            if json_out:
                Path(json_out).write_text(json.dumps(results, indent=1))
    if markdown_out:
        Path(markdown_out).write_text(markdown(results))
    print(summary(results))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe-layers"]:  # what autograd keeps per layer (docs table)
        for layer, ratio in probe_layers().items():
            print(f"| {layer} | {ratio:.2f} |")
        sys.exit(0)
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure_in_process(sys.argv[2], sys.argv[3])))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", help=f"default: {list(MODELS)}")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--markdown", metavar="FILE")
    p.add_argument("--from-json", metavar="FILE", nargs="+")
    p.add_argument("--reestimate", action="store_true")
    a = p.parse_args()
    sys.exit(main(a.models, a.json, a.markdown, a.from_json, a.reestimate))
