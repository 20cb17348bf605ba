"""Graph-only SavedModels: the chosen signature's graph, shaped by TensorFlow's own op shape
functions at the input the user states. Imports TensorFlow (lazily: only this module does).

Nothing is executed and no variable value is read. The signature's outputs are traced back
through the SavedModel's GraphDef; every op on the way is re-created in a fresh ``tf.Graph``
(``import_graph_def``), which runs each op's C++ shape function as it is added. Function
calls (``StatefulPartitionedCall``...) are inlined by hand, one FunctionDef at a time, since
TF's shape refiner does not look inside them; variables are ``VarHandleOp`` nodes whose shape
attribute gives ``ReadVariableOp`` its shape. Placeholders take the stated input shape.
Loops (``While``) run their body at the loop variables' shapes first (their stated
``output_shapes`` were written with the batch unknown); colocation attributes are dropped.

Rows: ops are grouped into layers by name scope (the scope one level below the function's
common scope, e.g. ``resnet50_1/conv1_conv_1``); ops outside any scope are a row each.
Constants, variable reads and ops that only transform them are weights, not rows; Identity
ops alias their input.

The graph's dialect is "tf-graph": its shapes come from ``shapes/engines/tf_graph_engine.py``,
which re-traces the graph with ``Trace`` at the stated input from the plain data this reader
stores (``engine_inputs.TfGraph``).
"""
from __future__ import annotations

import copy
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..engine_inputs import TfGraph
from ..errors import BadArguments, MissingExtra, UnreadableArtifact, first_line
from ..ir import INDEX_DTYPES, TF_GRAPH, Graph, Node, ReaderFinding, Shape, TensorSpec, WeightSpec

CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall"}
#: Control flow v2 loops: their body function runs at the loop variables' shapes first.
WHILE_OPS = {"While", "StatelessWhile"}
#: Node attributes that name other nodes (colocation groups): ops are re-created a batch at a
#: time, inside other call paths, so the nodes they name are not there; they hold no shape.
NODE_NAMING_ATTRS = ("_class",)
MAX_LOOP_PASSES = 4
#: Ops whose list handle TF's shape function gives only the element shape it was told (the
#: ``element_shape`` input, often ``[-1, n]``) though the tensor put in states it whole:
#: op type -> the shape of one element, from the op's inputs.
LIST_ELEMENT_SHAPE = {
    "TensorListFromTensor": lambda op: op.inputs[0].shape[1:],
    "TensorListSetItem": lambda op: op.inputs[2].shape,
    "TensorListPushBack": lambda op: op.inputs[1].shape,
}
#: Ops whose output's first dim is the list's length, which TF's shape function does not
#: know (lengths are tracked here: ``Trace._list_length``).
LIST_STACK_OPS = {"TensorListStack"}
VAR_OPS = {"VarHandleOp", "VariableV2", "Variable"}
ALIAS_OPS = {"Identity", "IdentityN", "StopGradient", "Snapshot"}
NO_ROW_OPS = {"NoOp", "Const", "Placeholder", "PlaceholderWithDefault", "Assert"}
MINOR_OPS = {"Reshape", "Squeeze", "ExpandDims", "Cast", "Shape", "StridedSlice", "Pack",
             "Identity", "Const", "ReadVariableOp"}
MAX_CALL_DEPTH = 64
MAX_OPS = 2_000_000


@dataclass
class OpRecord:
    name: str  # full name in the traced graph (call path + local name)
    local: str  # name inside its function
    ctx: str  # call path of its function instance ("" at the top level)
    type: str
    inputs: list[str]  # tensor ids (after aliasing) of non-static inputs
    outputs: list[tuple[str, Optional[Shape], str]]  # (tensor id, shape, dtype)
    weights: set[str] = field(default_factory=set)  # variable keys it reads
    error: str = ""


class Trace:
    """One re-creation of the signature's graph at given input shapes."""

    def __init__(self, tf: Any, mg: Any, path: str) -> None:
        self.tf = tf
        self.mg = mg
        self.path = path
        self.graph = tf.Graph()
        self.lib = {f.signature.name: f for f in mg.graph_def.library.function}
        self.ops: list[OpRecord] = []
        self.alias: dict[str, str] = {}  # tensor name -> tensor id it aliases
        self.static: dict[str, set[str]] = {}  # tensor name -> variable keys (static tensors)
        self.var_key: dict[str, str] = {}  # VarHandleOp tensor name -> variable key
        self.fallback_dtypes: dict[str, str] = {}
        #: While op (full name) -> its outputs' (handle data, list length) after the loop.
        self.loop_handles: dict[str, list[tuple[Any, Optional[int]]]] = {}
        #: TensorList tensor name -> its number of elements, where known.
        self.list_len: dict[str, int] = {}
        self.count = 0
        with self.graph.as_default():
            lib_only = tf.compat.v1.GraphDef()
            lib_only.library.CopyFrom(mg.graph_def.library)
            lib_only.versions.CopyFrom(mg.graph_def.versions)
            tf.graph_util.import_graph_def(lib_only, name="")

    # -- tensor ids
    def tid(self, t: Any) -> str:
        return self.alias.get(t.name, t.name)

    def run(self, inputs: Mapping[str, tuple[Any, Shape]], outputs: list[str]) -> list[str]:
        """Re-create what ``outputs`` (graph tensor names) need; ``inputs`` maps placeholder
        tensor names to (dtype enum, shape). Returns the output tensor ids."""
        tf = self.tf
        nodes = {n.name: n for n in self.mg.graph_def.node}
        with self.graph.as_default():
            pre: dict[str, Any] = {}
            for tname, (dtype, shape) in inputs.items():
                node = tname.split(":")[0]
                pre[node + ":0"] = tf.compat.v1.placeholder(
                    tf.dtypes.as_dtype(dtype), shape=list(shape), name=node)
            produced = self._instantiate(nodes, pre, [o.split(":")[0] for o in outputs], "",
                                         0, self.mg.graph_def.versions)
        return [self.tid(produced[_norm(o)]) for o in outputs]

    def _instantiate(self, nodes: Mapping[str, Any], pre: dict[str, Any], wanted: list[str],
                     ctx: str, depth: int, versions: Any) -> dict[str, Any]:
        """Create the ops ``wanted`` need; ``pre`` holds tensors already given (by
        "node:idx"). Returns every tensor made, by "node:idx" local names."""
        if depth > MAX_CALL_DEPTH:
            raise UnreadableArtifact(f"function calls nest more than {MAX_CALL_DEPTH} deep",
                                     self.path)
        done = {k.split(":")[0] for k in pre}
        order = _topo(nodes, wanted, done, self.path)
        tensors = dict(pre)
        batch: list[Any] = []
        for name in order:
            node = nodes[name]
            if node.op in CALL_OPS or node.op in self.lib:
                self._flush(batch, tensors, ctx, versions)
                batch = []
                self._call(node, tensors, ctx, depth)
            elif node.op in WHILE_OPS:
                self._flush(batch, tensors, ctx, versions)
                batch = []
                self._flush([self._loop_node(node, tensors, ctx, depth)], tensors, ctx,
                            versions)
            elif node.op in LIST_ELEMENT_SHAPE or node.op in LIST_STACK_OPS:
                self._flush(batch, tensors, ctx, versions)
                batch = []
                self._flush([node], tensors, ctx, versions)
                self._refine_list(tensors.get(f"{node.name}:0"))
            else:
                batch.append(node)
        self._flush(batch, tensors, ctx, versions)
        return tensors

    def _call(self, node: Any, tensors: dict[str, Any], ctx: str, depth: int) -> None:
        from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

        fname = node.attr["f"].func.name if node.op in CALL_OPS else node.op
        fdef = self.lib.get(fname)
        if fdef is None:
            raise UnreadableArtifact(f"op {node.name} calls function {fname!r}, which the "
                                     "library lacks", self.path)
        args = [tensors[_norm(i)] for i in node.input if not i.startswith("^")]
        if len(args) != len(fdef.signature.input_arg):
            raise UnreadableArtifact(f"op {node.name} passes {len(args)} inputs to {fname}, "
                                     f"which takes {len(fdef.signature.input_arg)}", self.path)
        gd, flat = function_def_to_graph_def(fdef, [None] * len(args))
        inner = {n.name: n for n in gd.node}
        pre = {a.name + ":0": t for a, t in zip(fdef.signature.input_arg, args)}
        want = []
        for out in fdef.signature.output_arg:
            want.append(_norm(flat[fdef.ret[out.name]]).split(":")[0])
        sub_ctx = f"{ctx}{node.name}/"
        made = self._instantiate(inner, pre, want, sub_ctx, depth + 1, gd.versions)
        for i, out in enumerate(fdef.signature.output_arg):
            t = made[_norm(flat[fdef.ret[out.name]])]
            tensors[f"{node.name}:{i}"] = t

    def _loop_node(self, node: Any, tensors: dict[str, Any], ctx: str, depth: int) -> Any:
        """``node`` (a While) with ``output_shapes`` at this input: the loop variables' shapes
        run through the body until they stop changing (dims that change become unknown, as
        TF's shape invariants relax them). The stated ``output_shapes`` were written at the
        export's input (batch unknown); where they state a dim the body leaves unknown, it
        stays. The list handles' element shapes (TensorList loop variables) ride along as
        handle data (``loop_handles``), for the TensorListStack after the loop."""
        tf = self.tf
        from tensorflow.python.ops import handle_data_util

        ins = [tensors[_norm(i)] for i in node.input if not i.startswith("^")]
        body = self.lib.get(node.attr["body"].func.name)
        if body is None or len(body.signature.input_arg) != len(ins):
            return node  # TF's own shape function (the stated output_shapes) decides
        shapes = [t.shape for t in ins]
        handles = [handle_data_util.get_resource_handle_data(t) for t in ins]
        lengths = [self.list_len.get(t.name) for t in ins]
        for k in range(MAX_LOOP_PASSES):
            passed = self._body_pass(body, ins, shapes, handles, lengths,
                                     f"{ctx}{node.name}__pass{k}/", depth)
            if passed is None:
                return node
            outs, out_lengths = passed
            new_shapes = [a.most_specific_compatible_shape(b.shape)
                          for a, b in zip(shapes, outs)]
            new_handles = [handle_data_util.get_resource_handle_data(o)
                           if o.dtype == tf.variant else h for o, h in zip(outs, handles)]
            stable = all(a == b and a.rank == b.rank for a, b in zip(shapes, new_shapes)) and \
                [h.SerializeToString() for h in handles] == \
                [h.SerializeToString() for h in new_handles]
            shapes, handles = new_shapes, new_handles
            if stable:
                break
        stated = node.attr["output_shapes"].list.shape
        new = type(node)()
        new.CopyFrom(node)
        del new.attr["output_shapes"].list.shape[:]
        for i, shp in enumerate(shapes):
            if i < len(stated):
                shp = _merge_known(tf, shp, tf.TensorShape(stated[i]))
            new.attr["output_shapes"].list.shape.add().CopyFrom(shp.as_proto())
        # A list the body only writes in place (SetItem) keeps its length through the loop.
        self.loop_handles[ctx + node.name] = [
            (h, n if n is not None and n == m else None)
            for h, n, m in zip(handles, lengths, out_lengths)]
        return new

    def _refine_list(self, handle: Any) -> None:
        """The list's element shape (its handle data, which the ops that take items out of
        the list read, in a loop body or after it) merged with the shape of what was put in."""
        from tensorflow.python.ops import handle_data_util

        if handle is None or handle.op.type not in LIST_ELEMENT_SHAPE:
            return  # TF could not re-create it (a stand-in)
        data = handle_data_util.get_resource_handle_data(handle)
        if not data.is_set or not data.shape_and_type:
            data = handle_data_util.get_resource_handle_data(handle.op.inputs[0])
        put = LIST_ELEMENT_SHAPE[handle.op.type](handle.op)
        if not data.is_set or not data.shape_and_type or put.rank is None:
            return
        elem = self.tf.TensorShape(data.shape_and_type[0].shape)
        if not elem.is_compatible_with(put):
            return
        data.shape_and_type[0].shape.CopyFrom(elem.merge_with(put).as_proto())
        handle_data_util.set_handle_data(handle, data)

    def _list_length(self, op: Any) -> None:
        """Track TensorList lengths (a reserved size, an unstacked tensor's first dim, kept by
        SetItem and Identity), and give a TensorListStack its first dim from them."""
        kind = op.type
        if kind == "TensorListReserve":
            from tensorflow.python.framework import tensor_util

            try:  # TF's own constant evaluation (shape-derived scalars: Shape -> StridedSlice)
                n = tensor_util.try_evaluate_constant(op.inputs[1])
            except (ValueError, TypeError, self.tf.errors.OpError):
                n = None
            if n is not None and int(n) >= 0:
                self.list_len[op.outputs[0].name] = int(n)
        elif kind == "TensorListFromTensor":
            shp = op.inputs[0].shape
            if shp.rank and shp[0] is not None:
                self.list_len[op.outputs[0].name] = int(shp[0])
        elif kind == "TensorListSetItem" or kind in ALIAS_OPS:
            for t_in, t_out in zip(op.inputs, op.outputs):
                if t_in.name in self.list_len:
                    self.list_len[t_out.name] = self.list_len[t_in.name]
        elif kind in LIST_STACK_OPS:
            n = self.list_len.get(op.inputs[0].name)
            out = op.outputs[0]
            if n is not None and out.shape.rank and out.shape[0] is None:
                out.set_shape([n] + out.shape.as_list()[1:])

    def _body_pass(self, body: Any, ins: list[Any], shapes: list[Any], handles: list[Any],
                   lengths: list[Optional[int]], sub_ctx: str, depth: int
                   ) -> Optional[tuple[list[Any], list[Optional[int]]]]:
        """The body's outputs (and list lengths) with its loop variables at ``shapes``, made
        in this graph by a scratch trace whose ops are not rows. Resource inputs (variables)
        are the loop's own."""
        tf = self.tf
        from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def
        from tensorflow.python.ops import handle_data_util

        gd, flat = function_def_to_graph_def(body, [None] * len(ins))
        pre = {}
        seeded: dict[str, int] = {}
        for i, (arg, t, shp, h, n) in enumerate(zip(body.signature.input_arg, ins, shapes,
                                                     handles, lengths)):
            if t.dtype == tf.resource:
                pre[arg.name + ":0"] = t
                continue
            p = tf.compat.v1.placeholder(t.dtype, shape=shp, name=f"{sub_ctx}arg{i}")
            if t.dtype == tf.variant:
                handle_data_util.set_handle_data(p, h)
                if n is not None:
                    seeded[p.name] = n
            pre[arg.name + ":0"] = p
        scratch = copy.copy(self)
        scratch.ops, scratch.alias, scratch.static = [], dict(self.alias), dict(self.static)
        scratch.var_key, scratch.loop_handles = dict(self.var_key), dict(self.loop_handles)
        scratch.list_len = {**self.list_len, **seeded}
        want = [_norm(flat[body.ret[o.name]]) for o in body.signature.output_arg]
        try:
            made = scratch._instantiate({n.name: n for n in gd.node}, pre,
                                        [w.split(":")[0] for w in want], sub_ctx, depth + 1,
                                        gd.versions)
        except UnreadableArtifact:
            return None
        finally:
            self.count = scratch.count
        outs = [made[w] for w in want]
        return outs, [scratch.list_len.get(t.name) for t in outs]

    def _flush(self, batch: list[Any], tensors: dict[str, Any], ctx: str, versions: Any) -> None:
        if not batch:
            return
        tf = self.tf
        self.count += len(batch)
        if self.count > MAX_OPS:
            raise UnreadableArtifact(f"graph has more than {MAX_OPS} ops", self.path)
        try:
            ops = self._import(batch, tensors, ctx, versions)
        except (ValueError, tf.errors.OpError):
            ops = []
            for node in batch:  # find the op TF rejects; go on past it with unknown shapes
                try:
                    ops += self._import([node], tensors, ctx, versions)
                except (ValueError, tf.errors.OpError) as exc:
                    ops.append(self._unshaped(node, tensors, ctx, first_line(exc)))
        for node, op in zip(batch, ops):
            if isinstance(op, _Stand):
                self._record(node, op, ctx)
                continue
            self._list_length(op)
            self._record(node, op, ctx)
            from tensorflow.python.ops import handle_data_util

            for t, (h, n) in zip(op.outputs, self.loop_handles.get(ctx + node.name, [])):
                if t.dtype == tf.variant:
                    handle_data_util.set_handle_data(t, h)
                    if n is not None:
                        self.list_len[t.name] = n

    def _import(self, batch: list[Any], tensors: dict[str, Any], ctx: str, versions: Any
                ) -> list[Any]:
        tf = self.tf
        gd = tf.compat.v1.GraphDef()
        gd.versions.CopyFrom(versions)
        local = {n.name for n in batch}
        input_map = {}
        for node in batch:
            new = gd.node.add()
            new.CopyFrom(node)
            new.name = ctx + node.name
            new.ClearField("device")
            for attr in ("_output_shapes",) + NODE_NAMING_ATTRS:
                if attr in new.attr:
                    del new.attr[attr]
            del new.input[:]
            for i in node.input:
                if i.startswith("^"):
                    if i[1:] in local:
                        new.input.append("^" + ctx + i[1:])
                    continue
                key = _norm(i)
                if key.split(":")[0] in local:
                    new.input.append(ctx + key)
                else:
                    if key not in tensors:
                        raise UnreadableArtifact(f"op {node.name} reads {i}, which is not in "
                                                 "the graph", self.path)
                    new.input.append(ctx + key)
                    input_map[ctx + key] = tensors[key]
        made = tf.graph_util.import_graph_def(
            gd, input_map=input_map, return_elements=[ctx + n.name for n in batch], name="")
        for node, op in zip(batch, made):
            for i, t in enumerate(op.outputs):
                tensors[f"{node.name}:{i}"] = t
        return made

    def _unshaped(self, node: Any, tensors: dict[str, Any], ctx: str, message: str) -> Any:
        """Stand-in for an op TF cannot shape: placeholders of unknown shape."""
        tf = self.tf
        n_out = max(1, sum(1 for k in self.fallback_dtypes if k.startswith(ctx + node.name + ":")))
        outs = []
        for i in range(n_out):
            dtype = self.fallback_dtypes.get(f"{ctx}{node.name}:{i}", "float32")
            outs.append(tf.compat.v1.placeholder(dtype, shape=None,
                                                 name=f"{ctx}{node.name}__unshaped_{i}"))
            tensors[f"{node.name}:{i}"] = outs[-1]
        return _Stand(node.op, outs, [tensors[_norm(i)] for i in node.input
                                      if not i.startswith("^") and _norm(i) in tensors], message)

    def _record(self, node: Any, op: Any, ctx: str) -> None:
        outs = list(op.outputs)
        ins = list(op.inputs)
        if op.type in VAR_OPS:
            for t in outs:
                self.var_key[t.name] = node.attr["shared_name"].s.decode() or ctx + node.name
                self.static[t.name] = {t.name}
            return
        in_static = [t.name in self.static for t in ins]
        if op.type in ALIAS_OPS and outs and len(ins) >= len(outs) and not all(in_static):
            for t, src in zip(outs, ins):
                self.alias[t.name] = self.tid(src)
            return
        if op.type in NO_ROW_OPS or (ins and all(in_static)) or (not ins and op.type != "Placeholder"):
            keys: set[str] = set()
            for t in ins:
                keys |= self.static.get(t.name, set())
            for t in outs:
                self.static[t.name] = keys
            return
        weights: set[str] = set()
        for t in ins:
            weights |= self.static.get(t.name, set())
        rec = OpRecord(
            name=ctx + node.name, local=node.name, ctx=ctx, type=op.type,
            inputs=[self.tid(t) for t in ins if t.name not in self.static],
            outputs=[(t.name, _shape(t), _dtype(t)) for t in outs], weights=weights,
            error=getattr(op, "error", ""))
        self.ops.append(rec)


@dataclass
class _Stand:
    type: str
    outputs: list[Any]
    inputs: list[Any]
    error: str


def _merge_known(tf: Any, ours: Any, stated: Any) -> Any:
    """``ours`` with the dims it leaves unknown taken from ``stated`` where that states them;
    ``ours`` alone when the two disagree (the body at this input wins)."""
    if ours.rank is None or stated.rank is None or ours.rank != stated.rank:
        return ours if ours.rank is not None else stated
    dims = [a if a is not None else b for a, b in zip(ours.as_list(), stated.as_list())]
    merged = tf.TensorShape(dims)
    return merged if merged.is_compatible_with(ours) else ours


def _norm(name: str) -> str:
    return name if ":" in name else name + ":0"


def _shape(t: Any) -> Optional[Shape]:
    if t.shape.rank is None:
        return None
    return tuple(None if d is None else int(d) for d in t.shape.as_list())


def _dtype(t: Any) -> str:
    name = t.dtype.name.removesuffix("_ref")  # TF1 VariableV2 outputs are ref tensors
    return {"half": "float16", "float": "float32", "double": "float64"}.get(name, name)


def _topo(nodes: Mapping[str, Any], wanted: list[str], done: set[str], path: str) -> list[str]:
    """Ancestors of ``wanted`` in dependency order (data and control edges), iteratively."""
    order: list[str] = []
    state: dict[str, int] = {n: 2 for n in done}
    for root in wanted:
        stack = [(root, False)]
        while stack:
            name, expanded = stack.pop()
            if state.get(name) == 2:
                continue
            if expanded:
                state[name] = 2
                order.append(name)
                continue
            if state.get(name) == 1:
                raise UnreadableArtifact(f"the graph has a cycle through {name}", path)
            if name not in nodes:
                raise UnreadableArtifact(f"the graph names op {name!r} but does not hold it",
                                         path)
            state[name] = 1
            stack.append((name, True))
            for i in nodes[name].input:
                dep = (i[1:] if i.startswith("^") else i).split(":")[0]
                if state.get(dep) != 2:
                    stack.append((dep, False))
    return order


# --------------------------------------------------------------------------- reader

def import_tensorflow(path: str) -> Any:
    """TensorFlow, imported with its start-up log lines (printed to fd 2 before absl's logging
    is set up, whatever TF_CPP_MIN_LOG_LEVEL says) kept off the user's terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import tensorflow as tf  # the one place memscan imports TensorFlow
            except ImportError as exc:
                raise MissingExtra(
                    "a graph-only SavedModel needs TensorFlow to shape its graph, and it "
                    f"cannot be imported ({exc}); install it: pip install "
                    "'memscan[savedmodel]'", path) from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tf


def read_graph(folder: str, path: str, raw: bytes, meta: Any, variables: list[Any],
               findings: list[ReaderFinding], signature: str,
               output_order: Optional[list[str]] = None) -> Graph:
    tf = import_tensorflow(path)
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    try:
        sm.ParseFromString(raw)
    except Exception as exc:  # protobuf's DecodeError
        raise UnreadableArtifact(f"malformed saved_model.pb ({first_line(exc)})", path) from None
    mg_index = next((i for i, m in enumerate(sm.meta_graphs) if "serve" in m.meta_info_def.tags),
                    0)
    mg = sm.meta_graphs[mg_index]
    if signature not in mg.signature_def:
        names = [k for k in mg.signature_def if not k.startswith("__")]
        raise BadArguments(f"no signature {signature!r}; the SavedModel has "
                           f"{', '.join(sorted(names)) or 'none'} (choose with --signature)",
                           path)
    sig = mg.signature_def[signature]
    in_keys = sorted(sig.inputs)
    out_keys = sorted(sig.outputs)
    if output_order and set(out_keys) <= set(output_order):
        out_keys.sort(key=output_order.index)  # the Keras model's own output order
    specs = []
    for key in in_keys:
        info = sig.inputs[key]
        if not info.name:
            raise UnreadableArtifact(f"signature input {key!r} is not a dense tensor", path)
        shape = None if info.tensor_shape.unknown_rank else tuple(
            None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)
        if shape is None:
            raise UnreadableArtifact(f"signature input {key!r} has unknown rank", path)
        specs.append(TensorSpec(name=key, shape=shape,
                                dtype=_dtype_of_enum(tf, info.dtype)))
    out_names = [sig.outputs[k].name for k in out_keys]

    def trace(shapes: Mapping[str, Shape]) -> tuple[Trace, list[str], dict[str, str]]:
        t = Trace(tf, mg, path)
        feed = {sig.inputs[k].name: (sig.inputs[k].dtype, shapes[k]) for k in in_keys}
        outs = t.run(feed, out_names)
        input_ids = {}
        for k in in_keys:
            node = sig.inputs[k].name.split(":")[0]
            input_ids[node + ":0"] = k
        return t, outs, input_ids

    try:
        first, out_ids, input_ids = trace({s.name: s.shape for s in specs})
    except (ValueError, tf.errors.OpError) as exc:
        raise UnreadableArtifact(f"the signature graph cannot be rebuilt ({first_line(exc)})",
                                 path) from None
    graph_nodes, output_ids, dtypes = _rows(first, out_ids, input_ids, specs, variables)
    engine_input = TfGraph(
        path=path, saved_model=raw, meta_graph=mg_index,
        signature=signature, input_keys=tuple(in_keys), output_names=tuple(out_names),
        output_ids=tuple(out_ids), input_ids=input_ids,
        dtypes={o[0]: o[2] for r in first.ops for o in r.outputs},
        row_of=_layer_names(first.ops))
    # Integer variables no row reads (an estimator's int64 global_step): stored index data.
    read_by_rows = {w.name for n in graph_nodes for w in n.weights}
    index_data = tuple(v.spec for v in variables
                       if v.spec.dtype in INDEX_DTYPES and v.spec.name not in read_by_rows)
    return Graph(format="savedmodel", producer=_producer(mg), name=signature,
                 inputs=tuple(specs), outputs=tuple(output_ids), nodes=tuple(graph_nodes),
                 findings=tuple(findings), dialect=TF_GRAPH, engine_input=engine_input,
                 known_dtypes=dtypes, loose_weights=(), batch_first=True,
                 index_data=index_data)


def _dtype_of_enum(tf: Any, enum: int) -> str:
    try:
        return _dtype(type("T", (), {"dtype": tf.dtypes.as_dtype(enum)})())
    except TypeError:
        return "float32"


def _producer(mg: Any) -> str:
    info = mg.meta_info_def
    parts = [f"TF {info.tensorflow_version}" if info.tensorflow_version else "TF"]
    return "SavedModel graph (" + ", ".join(parts) + ")"


def rename_input(tid: str, input_ids: Mapping[str, str]) -> str:
    return input_ids.get(tid, tid)


def _rows(trace: Trace, out_ids: list[str], input_ids: Mapping[str, str],
          specs: list[TensorSpec], variables: list[Any]
          ) -> tuple[list[Node], list[str], dict[str, str]]:
    """Group traced ops into report rows by name scope; one Node per row."""
    ops = trace.ops
    layer_of = _layer_names(ops)
    members: dict[str, list[OpRecord]] = defaultdict(list)
    for r in ops:
        members[layer_of[r.name]].append(r)
    made_by: dict[str, str] = {}
    for layer, rs in members.items():
        for r in rs:
            for tid, _, _ in r.outputs:
                made_by[tid] = layer
    used_outside: set[str] = set(out_ids)
    for layer, rs in members.items():
        for r in rs:
            for tid in r.inputs:
                if made_by.get(tid) not in (None, layer):
                    used_outside.add(tid)
    weights = _weight_specs(trace, variables)
    nodes: list[Node] = []
    dtypes: dict[str, str] = {}
    for spec in specs:
        nodes.append(Node(name=spec.name, op="InputLayer", layer=spec.name, inputs=(),
                          outputs=(spec.name,), dtype=spec.dtype))
    claimed: set[str] = set()
    for layer, rs in members.items():
        outs, ins, ws, types = [], [], [], []
        own = {tid for r in rs for tid, _, _ in r.outputs}
        for r in rs:
            for tid, _, dt in r.outputs:
                if tid in used_outside:
                    outs.append(rename_input(tid, input_ids))
                    dtypes[rename_input(tid, input_ids)] = dt
            for tid in r.inputs:
                if tid not in own and rename_input(tid, input_ids) not in ins:
                    ins.append(rename_input(tid, input_ids))
            for key in sorted(r.weights):
                if key not in claimed and key in weights:
                    claimed.add(key)
                    ws.append(weights[key])
            if r.type not in MINOR_OPS and r.type not in types:
                types.append(r.type)
        if not outs:  # a dead end (e.g. a side-effect op): its last output still exists
            last = rs[-1].outputs
            outs = [rename_input(last[0][0], input_ids)] if last else []
        if not types:  # only reshape-like ops: name the row by the op making its output
            types = [next((r.type for r in rs for tid, _, _ in r.outputs
                           if rename_input(tid, input_ids) in outs[:1]), rs[-1].type)]
        op = "tf." + "+".join(types[:3]) + ("+…" if len(types) > 3 else "")
        nodes.append(Node(name=layer, op=op, layer=layer, inputs=tuple(ins),
                          outputs=tuple(outs), weights=tuple(ws), origin="tensorflow",
                          dtype=dtypes.get(outs[0], "float32") if outs else "float32"))
    return nodes, [rename_input(t, input_ids) for t in out_ids], dtypes


def _layer_names(ops: list[OpRecord]) -> dict[str, str]:
    """Row name per op: the scope one below the function instance's common scope."""
    by_ctx: dict[str, list[OpRecord]] = defaultdict(list)
    for r in ops:
        by_ctx[r.ctx].append(r)
    result: dict[str, str] = {}
    taken: dict[str, str] = {}
    for ctx, rs in by_ctx.items():
        scopes = [r.local.split("/")[:-1] for r in rs if "/" in r.local]
        common: list[str] = scopes[0] if scopes else []
        for s in scopes[1:]:
            n = 0
            while n < min(len(common), len(s)) and common[n] == s[n]:
                n += 1
            common = common[:n]
        for r in rs:
            parts = r.local.split("/")
            rest = parts[len(common):] if parts[:len(common)] == common else parts
            # In a scope below the common one: that scope is the row; else the op itself.
            name = rest[0] if len(rest) > 1 else r.local
            owner = taken.setdefault(name, ctx)
            result[r.name] = name if owner == ctx else ctx + name
    return result


def _weight_specs(trace: Trace, variables: list[Any]) -> dict[str, WeightSpec]:
    """Variable key (VarHandleOp tensor) -> WeightSpec: from variables.index through the
    object graph when the variable's name matches, else the op's own shape attribute."""
    by_name: dict[str, list[Any]] = defaultdict(list)
    for v in variables:
        by_name[v.spec.name].append(v)
    out: dict[str, WeightSpec] = {}
    used: set[int] = set()
    g = trace.graph
    for tname, shared in trace.var_key.items():
        op = g.get_tensor_by_name(tname).op
        name = shared or op.name
        cand = [v for v in by_name.get(name, []) + by_name.get(op.name, []) if v.node_id not in used]
        if cand:
            used.add(cand[0].node_id)
            out[tname] = cand[0].spec
            continue
        try:
            shape = tuple(int(d) for d in trace.tf.TensorShape(op.get_attr("shape")).as_list())
            dtype = _dtype(type("T", (), {"dtype": op.get_attr("dtype")})())
        except (ValueError, TypeError):
            continue
        out[tname] = WeightSpec(name=op.name, shape=shape, dtype=dtype)
    return out
