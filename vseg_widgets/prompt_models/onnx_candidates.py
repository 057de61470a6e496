"""Expose the candidate masks that a single-mask SAM ONNX decoder computes and drops.

SAM's ONNX export with ``return_single_mask`` (the shipped decoder is one) computes all
four of the mask decoder's outputs, then keeps one (``SamOnnxModel.select_masks``): for a
single click the best of the three multimask tokens by predicted IoU, otherwise token 0.
The predicted IoU is a weak judge of which of the three a person meant (on the DAVIS dev
frames it picked a part of the object twice as often as the whole), so
:class:`~.onnx_sam.OnnxSam` asks for all four and chooses itself.

The graph is edited, not retrained: two existing tensors become extra outputs. They are
found by the shape of ``select_masks`` (an ArgMax over the reweighted IoU, and Gathers of
the flattened IoU and masks at that index), not by node names, which differ per export.
"""

from __future__ import annotations

from pathlib import Path

CANDIDATE_MASKS = "vseg_candidate_low_res_masks"  # (1, 4, 256, 256) float32 logits
CANDIDATE_SCORES = "vseg_candidate_iou_predictions"  # (1, 4) float32


def with_candidates(decoder: str | Path) -> bytes | None:
    """The serialised decoder with :data:`CANDIDATE_MASKS` and :data:`CANDIDATE_SCORES`
    added as outputs, or None when its graph has no ``select_masks`` step to look behind
    (a multimask export already returns every candidate)."""
    import onnx

    model = onnx.load(str(decoder))
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    argmax = [n for n in graph.node if n.op_type == "ArgMax"]
    if len(argmax) != 1:
        return None
    reweighted = producer.get(argmax[0].input[0])
    if reweighted is None or reweighted.op_type != "Add":
        return None
    scores = reweighted.input[0]  # the raw IoU predictions, before the click-count reweighting
    # indices = ArgMax + batch offset; the Gathers that use them read flattened tensors
    offsets = {n.output[0] for n in graph.node if n.op_type == "Add" and argmax[0].output[0] in n.input}
    flattened = []
    for node in graph.node:
        if node.op_type == "Gather" and node.input[1] in offsets:
            source = producer.get(node.input[0])
            if source is not None and source.op_type == "Flatten":
                flattened.append(source.input[0])
    masks = [name for name in flattened if name != scores]
    if scores not in flattened or len(masks) != 1:
        return None
    for source, name in ((masks[0], CANDIDATE_MASKS), (scores, CANDIDATE_SCORES)):
        graph.node.append(onnx.helper.make_node("Identity", [source], [name]))
        graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return model.SerializeToString()
