"""The temporaries onnxruntime's CPU Einsum takes from the arena, replayed from its source.

Two operands, no ellipsis, no repeated letter (what exporters write for Dense layers and
attention: ``abc,cde->abde``, ``abcd,aecd->acbe``). onnxruntime
(core/providers/cpu/math/einsum_utils/):

1. ``EinsumComputePreprocessor::PreprocessInputs`` (einsum_compute_preprocessor.cc): each
   operand whose letters are not in the order of their first appearance in the equation is
   transposed into that order: a copy of the operand.
2. ``EinsumTypedComputeProcessor::PairwiseOperandProcess`` (einsum_typed_compute_processor.cc):
   the letters are split into lro (in both operands, kept), lo (left only, kept), the
   reduced ones and ro (the rest); the left operand is permuted to [lro, lo, reduced, ro] and
   the right one to [lro, reduced, ro, lo], each a copy unless the permutation is the
   identity (``EinsumOp::IsTransposeRequired``); the batched MatMul writes a new tensor of
   the output's size.
3. ``FinalizeOutput``: when the MatMul's axis order [lro, lo, ro] is not the output's, one
   more output-sized transpose, then a copy into the node's output.

Every temporary stays alive until the node returns. Checked byte-exactly against
onnxruntime 1.32 on single Einsum nodes (Dense-style contractions at batch 1 and 2,
attention's score and context products).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from .registry import declare

DIALECT = "onnx"


def _equation(st: Any) -> Optional[tuple[list[str], str]]:
    cfg = st.config if isinstance(st.config, Mapping) else {}
    eq = cfg.get("equation")
    if isinstance(eq, bytes):
        eq = eq.decode()
    if not isinstance(eq, str) or "..." in eq:
        return None
    eq = eq.replace(" ", "")
    lhs, _, out = eq.partition("->")
    terms = lhs.split(",")
    if "->" not in eq:  # implicit output: the letters seen once, alphabetically
        letters = "".join(terms)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if any(len(set(t)) != len(t) for t in terms):
        return None
    return terms, out


def _permuted(order: list[int]) -> bool:
    return order != sorted(order)


def einsum_requests(st: Any, ins: int, out: int) -> list[int]:
    """The byte size of each temporary (see the module docstring); [] when the equation is
    not of the modelled kind or a shape is unknown (then nothing is added: not modelled)."""
    parsed = _equation(st)
    shapes = st.input_shapes[:2]
    if parsed is None or len(parsed[0]) != 2 or len(shapes) != 2 or None in shapes:
        return []
    terms, output = parsed
    if any(len(t) != len(s) for t, s in zip(terms, shapes)):
        return []
    size = 4 if not st.output_dtypes else {"float64": 8, "float16": 2}.get(st.output_dtypes[0], 4)
    index: dict[str, int] = {}
    for c in "".join(terms) + output:
        index.setdefault(c, len(index))
    req: list[int] = []
    dims = []
    for term, shape in zip(terms, shapes):
        if _permuted([index[c] for c in term]):
            req.append(math.prod(shape) * size)
        d = {c: n for c, n in zip(term, shape)}
        dims.append([d.get(c, 1) for c in index])
    left, right = dims
    lro, lo, ro, reduced = [], [], [], []
    for i, c in enumerate(index):
        if c not in output:
            reduced.append(i)
        elif left[i] > 1 and right[i] > 1:
            lro.append(i)
        elif left[i] > 1:
            lo.append(i)
        else:
            ro.append(i)
    if any((left[i] > 1) != (right[i] > 1) for i in reduced):
        return []  # a one-sided reduction (ReduceSum first): not modelled
    if _permuted(lro + lo + reduced + ro):
        req.append(math.prod(left) * size)
    if _permuted(lro + reduced + ro + lo):
        req.append(math.prod(right) * size)
    product = math.prod(left[i] for i in lro + lo) * math.prod(right[i] for i in ro)
    req.append(product * size)
    if _permuted([output.index(c) for c in (list(index)[i] for i in lro + lo + ro)]):
        req.append(product * size)
    return req


declare("Einsum", dialect=DIALECT, scratch=einsum_requests)
