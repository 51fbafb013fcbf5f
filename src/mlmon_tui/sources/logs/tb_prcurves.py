"""TensorBoard PR-curve summaries (plugin `pr_curves`, as `tf.summary.pr_curve` and
`torch.utils.tensorboard`'s `add_pr_curve` write them) as classification records.

The summary is a float tensor of shape [6, num_thresholds]: true positives, false
positives, true negatives, false negatives, precision and recall at thresholds
i / (num_thresholds - 1). It becomes a `ClassificationPoint` of kind "pr_curve" whose split
is the summary's tag: its ROC and PR curves, and the confusion matrix at threshold 0.5.
"""

from __future__ import annotations

from mlmon_tui.records.classification import from_pr_tensor
from mlmon_tui.records.metrics import Problem, Update
from mlmon_tui.sources.logs import tb_decode as tbd


def emit(dec, run: str, path: str, up: Update) -> None:
    """Decode the PR-curve tensors the decoder `dec` collected into `up`; clears them."""
    pending, dec.pr_curves = dec.pr_curves, []
    bad = 0
    for tag, step, wall, tensor in pending:
        try:
            arr = tbd.tensor_array(tensor)
            point = None if arr is None else from_pr_tensor(
                arr, run, tag.decode("utf-8", "replace"), step, wall, path)
        except (ValueError, IndexError):
            point = None
        if point is None:
            bad += 1
        else:
            up.classifications.append(point)
    if bad:
        up.problems.append(Problem(path, f"{bad} PR-curve summaries not of shape "
                                   "[6, thresholds]: skipped"))
