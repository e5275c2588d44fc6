"""Task-identity inference by entropy: class-incremental evaluation (hypermask.md §6).

Without the task id, each test sample is run through every learned task's subnetwork; the task whose
softmax over the shared C-way head has the lowest entropy is taken as the sample's task, and that
task's argmax, mapped to a global class id (`Task.classes`), is the prediction. Reported: the
task-inference accuracy (inferred task = true task), the class-incremental accuracy (predicted global
class = true global class) and the T×T task-id confusion matrix (counts; row: true task, column:
inferred task), all pooled over the test samples of the learned tasks.

Global classes are the benchmark's: Split MNIST task t holds digits (2t, 2t+1), so a sample is right
only through its own task; Permuted MNIST's tasks share the ten digits, so a right digit counts even
when the task is inferred wrongly.

Fine-tuning has one weight set and one shared head trained on task-local labels: every task gives the
same softmax, so no task can be inferred. Its class-incremental accuracy is defined only where the
local labels are the global classes (every task holds the same classes, as Permuted MNIST); on
Split MNIST its 2-way head says which of a task's two digits, not which of the ten.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from core.tickets.crossmask import cross_logits
from core.tickets.subnetworks import Subnetworks

NO_TASK_TO_INFER = ("fine-tuning has one weight set for every task: each task gives the same softmax, so "
                    "there is no task identity to infer")
NO_SHARED_LABELS = ("fine-tuning's shared {c}-way head is trained on task-local labels (which of a task's "
                    "{c} classes); the tasks hold different classes, so without the task id it predicts no "
                    "global class")


def softmax_entropy(logits: Tensor) -> Tensor:
    """Entropy in nats of softmax(logits) over the last dimension: (..., C) → (...)."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def infer_tasks(logits: Tensor) -> Tensor:
    """The lowest-entropy subnetwork for every sample: logits (S, N, C) → task ids (N,) in [0, S)
    (the first such task on a tie)."""
    return softmax_entropy(logits).argmin(0)


@torch.inference_mode()
def class_incremental(logits: Sequence[Tensor], labels: Sequence[Tensor],
                      classes: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Entropy-based task inference and class-incremental accuracy from cross logits.

    Args:
        logits: per true task i, its test samples through every learned task's subnetwork,
            (S, N_i, C) with S = len(classes) (`crossmask.cross_logits`).
        labels: per true task i, task-local labels (N_i,).
        classes: per task, its global class ids in local-label order (S lists of C ints).
    Returns:
        {"task_accuracy", "cil_accuracy": pooled fractions; "cil_per_task": per true task;
         "confusion": S×S counts (row: true task, column: inferred task); "n_samples"; "reason": None}.
    """
    table = torch.tensor([list(c) for c in classes], dtype=torch.long)  # (S, C) global ids
    n_sub = table.shape[0]
    confusion = torch.zeros(n_sub, n_sub, dtype=torch.long)
    right_task = right_class = total = 0
    per_task = []
    for i, (lg, y) in enumerate(zip(logits, labels)):
        lg, y = lg.cpu(), y.cpu()
        chosen = infer_tasks(lg)  # (N,)
        local = lg[chosen, torch.arange(lg.shape[1])].argmax(1)  # the inferred task's own argmax
        correct = int((table[chosen, local] == table[i, y]).sum())
        confusion[i] += torch.bincount(chosen, minlength=n_sub)
        right_task += int((chosen == i).sum())
        right_class += correct
        total += y.numel()
        per_task.append(correct / max(1, y.numel()))
    return {"task_accuracy": right_task / total, "cil_accuracy": right_class / total, "cil_per_task": per_task,
            "confusion": confusion.tolist(), "n_samples": total, "reason": None}


@torch.inference_mode()
def shared_head_accuracy(logits: Sequence[Tensor], labels: Sequence[Tensor],
                         classes: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Fine-tuning's class-incremental result: its one network, (1, N_i, C) logits per task.

    The class-incremental accuracy is that of the shared head over the pooled test sets when every
    task holds the same classes (so a local label is a global class); otherwise None with the reason.
    Task inference never applies (`NO_TASK_TO_INFER`).
    """
    out: dict[str, Any] = {"task_accuracy": None, "cil_accuracy": None, "cil_per_task": None, "confusion": None,
                           "n_samples": sum(int(y.numel()) for y in labels), "reason": NO_TASK_TO_INFER}
    if any(tuple(c) != tuple(classes[0]) for c in classes):
        out["cil_reason"] = NO_SHARED_LABELS.format(c=len(classes[0]))
        return out
    per_task = [float((lg[0].cpu().argmax(1) == y.cpu()).float().mean()) for lg, y in zip(logits, labels)]
    right = sum(p * int(y.numel()) for p, y in zip(per_task, labels))
    out.update(cil_accuracy=right / out["n_samples"], cil_per_task=per_task, cil_reason=None)
    return out


def task_inference(sub: Subnetworks, logits: Sequence[Tensor] | None = None) -> dict[str, Any]:
    """Class-incremental evaluation of the learned tasks (see the module docstring).

    Args:
        sub: the run's subnetworks (any method).
        logits: `crossmask.cross_logits(sub)` if already computed.
    Returns:
        `class_incremental`'s dict for HyperMask and HNET, `shared_head_accuracy`'s for fine-tuning;
        both carry "cil_reason" (None when the class-incremental accuracy is defined).
    """
    logits = cross_logits(sub) if logits is None else logits
    labels = [sub.test(i)[1] for i in range(sub.n_tasks)]
    if sub.kind == "shared":
        return shared_head_accuracy(logits, labels, sub.classes())
    return {**class_incremental(logits, labels, sub.classes()), "cil_reason": None}


__all__ = ["class_incremental", "infer_tasks", "shared_head_accuracy", "softmax_entropy", "task_inference"]
