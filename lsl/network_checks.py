"""What a network landscape checks when it is built: the device policy, the targets, a trial forward pass.

:class:`~lsl.network.NetworkLandscape` calls these once, at construction, so that a mistake in the data
or the model is reported where it is made, with the shapes and what the model expects, instead of as an
error deep inside a vectorised evaluation:

- :func:`resolve_device`: the device policy (an explicit ``device=`` wins, else the data's device);
- :func:`check_targets`: integer class labels for the built-in losses, on the landscape's device;
- :func:`check_split`: finite inputs, a trial forward pass and a trial loss on a few examples of a split,
  with the labels in range for a built-in loss (:func:`describe_first_layer` says in words what the
  model's first layer expects);
- :func:`check_normalization`: the normalisation layers against the batch-norm policy (errors for what it
  cannot follow, a :class:`BatchNormPolicyWarning` where the module's own ``eval()`` would differ);
- :func:`check_stateless`: a trial forward pass in training mode must not change the model's buffers or
  parameters.
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch
from torch import nn

__all__ = ["TRIAL_EXAMPLES", "resolve_device", "check_targets", "describe_first_layer", "check_split",
           "BatchNormPolicyWarning", "check_normalization", "check_stateless"]

#: How many examples the trial forward pass at construction uses.
TRIAL_EXAMPLES = 8


def resolve_device(model: nn.Module, device, **data) -> torch.device:
    """The device policy of :class:`~lsl.network.NetworkLandscape`: an explicit ``device`` wins, else the data's device.

    Args:
        model: the network; a model on ``meta`` (shapes without values) is rejected for a real device.
        device: the device asked for, or ``None`` for the data's.
        **data: the data tensors by name (``x`` must be one of them; ``None`` entries are skipped).

    Returns:
        The device the landscape computes on.

    Raises:
        ValueError: if the data sit on several devices and ``device`` is ``None``, or data or model on
            ``meta`` would have to move to a real device.
    """
    on = {name: t.device for name, t in data.items() if t is not None}
    if device is not None:
        dev = torch.device(device)
    else:
        if len(set(on.values())) > 1:
            where = ", ".join(f"{k} on {v}" for k, v in on.items())
            raise ValueError(f"the data sit on different devices ({where}): move them to one device, "
                             f"or pass device=... to say where the landscape computes (everything is moved there)")
        dev = on["x"]
    if dev.type != "meta" and any(d.type == "meta" for d in on.values()):
        where = ", ".join(k for k, v in on.items() if v.type == "meta")
        raise ValueError(f"{where} on the meta device (shapes without values) cannot be moved to {dev}: "
                         f"give data with values, or build the landscape on meta (device='meta') to check shapes")
    tensors = list(model.parameters()) + list(model.buffers())
    if dev.type != "meta" and any(t.device.type == "meta" for t in tensors):
        raise ValueError(
            f"the model's parameters are on the meta device (shapes without values), the landscape computes "
            f"on {dev} (the {'device= argument' if device is not None else 'data'}'s device): a meta model "
            f"cannot be moved there. Build the model with values (e.g. lsl.data.nets.make, or "
            f"model.to_empty(device=...) and an initialisation) first")
    return dev


def check_targets(y: torch.Tensor, *, builtin: bool, loss_name: str, device: torch.device,
                  dtype: torch.dtype) -> torch.Tensor:
    """Targets on ``device``: integer labels as ``long``, other targets (of a callable loss) in ``dtype``.

    Args:
        y: the targets.
        builtin: whether the loss is a built-in one, which takes integer class labels only.
        loss_name: the loss's name, for messages.
        device: the landscape's device.
        dtype: the landscape's precision (for floating-point targets).

    Returns:
        The targets on ``device``.

    Raises:
        ValueError: for boolean or complex targets, and for floating-point targets of a built-in loss.
    """
    if y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"labels must be integer class indices, got a tensor of dtype {y.dtype}")
    if y.is_floating_point():
        if builtin:
            raise ValueError(
                f"the {loss_name} loss takes integer class "
                f"labels, but the labels are {y.dtype} (e.g. {y.reshape(-1)[:3].tolist() if y.device.type != 'meta' else '...'}): "
                f"convert class indices with y.long(), or pass a callable loss that takes these targets")
        return y.to(device, dtype=dtype)
    return y.to(device).long()


def describe_first_layer(model: nn.Module) -> str:
    """What the model's first layer with parameters expects as inputs, in words (for error messages).

    Args:
        model: the network.

    Returns:
        A phrase such as "its first layer (0) is Linear(...), which takes 40 features per example ...".
    """
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            return (f"its first layer ({name or 'the model'}) is {m!r}, which takes {m.in_features} features per "
                    f"example (inputs [N, {m.in_features}], or inputs whose trailing dimensions flatten to "
                    f"{m.in_features} when a Flatten comes first)")
        if isinstance(m, nn.modules.conv._ConvNd):
            k = len(m.kernel_size)
            lead = "[N, C, L]" if k == 1 else "[N, C, H, W]" if k == 2 else f"[N, C, {k} spatial dimensions]"
            return (f"its first layer ({name}) is {m!r}, which takes inputs {lead} with C={m.in_channels} "
                    f"channels")
        if any(True for _ in m.parameters(recurse=False)):
            return f"its first layer with parameters is {name or 'the model'}: {m!r}"
    return f"it is {type(model).__name__}"


def check_split(split: str, x: torch.Tensor, y: torch.Tensor, *, forward: Callable[[torch.Tensor], torch.Tensor],
                criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], loss_name: str, builtin: bool,
                model: nn.Module, trial_examples: int = TRIAL_EXAMPLES) -> None:
    """Check one split of the data against the model and the loss: a trial forward pass and loss on a few examples.

    The inputs must be finite; the model must take them; for a built-in loss the model must give
    logits ``[N, C]`` and the labels must be class indices ``[N]`` in ``[0, C)``; the loss of the trial
    examples must be a scalar. Value checks are skipped on ``meta``, which has no values.

    Args:
        split: ``"training"`` or ``"test"``, for messages.
        x: the split's inputs, on the landscape's device.
        y: its targets, on the same device (:func:`check_targets`).
        forward: the model's outputs on some inputs (at the landscape's ``theta0``).
        criterion: the loss ``(outputs, targets) -> scalar``.
        loss_name: the loss's name, for messages.
        builtin: whether the loss is a built-in one (``"cross_entropy"`` or ``"mse"``).
        model: the network, to say what its first layer expects (:func:`describe_first_layer`).
        trial_examples: how many examples the trial forward pass takes.

    Raises:
        ValueError: for data the model cannot take, targets the loss cannot take, or non-finite inputs.
    """
    values = x.device.type != "meta"
    if values and x.is_floating_point():
        finite = torch.isfinite(x.reshape(x.shape[0], -1)).all(1)
        if not bool(finite.all()):
            bad = (~finite).nonzero().squeeze(1)
            raise ValueError(f"the {split} inputs hold non-finite values (NaN or inf) in {bad.numel()} of "
                             f"{x.shape[0]} examples (the first: {bad[:5].tolist()}): clean or drop them")
    k = min(trial_examples, x.shape[0])
    try:
        with torch.no_grad():
            out = forward(x[:k])
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        raise ValueError(
            f"the model cannot take the {split} inputs: they have shape {tuple(x.shape)} (one example: "
            f"{tuple(x.shape[1:])}, dtype {x.dtype}), and {describe_first_layer(model)}. Reshape the data or build the "
            f"model for inputs of shape {tuple(x.shape[1:])}. (The trial forward pass on {k} examples "
            f"raised: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from err
    if builtin:
        if out.dim() != 2:
            raise ValueError(f"the {loss_name} loss needs logits [N, C]; the model gives {tuple(out.shape)} "
                             f"for {k} {split} examples")
        C = out.shape[-1]
        if y.dim() != 1:
            raise ValueError(f"the {split} labels must be one class index per example, shape [N]; got "
                             f"{tuple(y.shape)}")
        if values and y.numel():
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= C:
                bad = ((y < 0) | (y >= C)).sum()
                raise ValueError(
                    f"the {split} labels must be class indices in [0, {C}) for a model with {C} outputs; "
                    f"{int(bad)} of {y.shape[0]} are outside (min {lo}, max {hi}). Build the model with "
                    f"n_classes={hi + 1 if lo >= 0 else '...'} or relabel the data")
    try:
        with torch.no_grad():
            trial = criterion(out, y[:k])
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        raise ValueError(
            f"the loss {loss_name} cannot take the model's outputs {tuple(out.shape)} and the {split} "
            f"targets (shape {tuple(y.shape)}, dtype {y.dtype}) on {k} trial examples: {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}") from err
    if not isinstance(trial, torch.Tensor) or trial.dim() != 0:
        raise ValueError(f"the loss {loss_name} must return a scalar tensor; on {k} {split} examples it "
                         f"returned {type(trial).__name__}"
                         f"{' of shape ' + str(tuple(trial.shape)) if isinstance(trial, torch.Tensor) else ''}")


class BatchNormPolicyWarning(UserWarning):
    """A model's own ``eval()`` forward pass would use other batch-norm statistics than the landscape's policy.

    The landscape's loss at ``theta`` uses the training data's batch-norm statistics at ``theta`` (see
    :class:`~lsl.network.NetworkLandscape`); this warning says where the module, evaluated by torch, would
    give other numbers (stored running statistics, or each batch's own statistics).
    """


def check_normalization(model: nn.Module, *, n_train: int, example_shape: tuple[int, ...]) -> list[nn.Module]:
    """The batch-norm layers of ``model``, checked against the batch-norm policy of :class:`~lsl.network.NetworkLandscape`.

    Args:
        model: the landscape's private copy of the network.
        n_train: the number of training examples (the statistics are theirs).
        example_shape: the shape of one training input (to say when a channel has a single value).

    Returns:
        The batch-norm layers (subclasses of ``nn.modules.batchnorm._BatchNorm``), in module order;
        empty for a network without batch norm.

    Raises:
        ValueError: for instance norm with ``track_running_stats=True`` (its ``eval()`` reads stored
            statistics that nothing in ``lsl`` updates), and for batch norm with a single training example
            of one value per channel (no statistics to normalise with).

    Warns:
        BatchNormPolicyWarning: for batch-norm layers with ``track_running_stats=False`` (torch evaluates
            them with each batch's own statistics; ``lsl`` with the training data's), and for layers
            whose stored running statistics were computed (a trained model: ``lsl`` does not use them).
    """
    layers, untracked, stored = [], [], []
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.instancenorm._InstanceNorm) and m.track_running_stats:
            raise ValueError(
                f"layer {name!r} ({m!r}) is instance norm with track_running_stats=True: in eval() it uses stored "
                f"statistics that no lsl trainer updates, so the loss would depend on state outside theta. Build it "
                f"with track_running_stats=False (each example's own statistics), or use batch norm, whose "
                f"statistics lsl recomputes at every theta")
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            layers.append(m)
            if not m.track_running_stats:
                untracked.append(name)
            elif (m.num_batches_tracked is not None and m.num_batches_tracked.device.type != "meta"
                  and int(m.num_batches_tracked) > 0):
                stored.append(name)
    if not layers:
        return layers
    if n_train < 2 and all(d == 1 for d in example_shape[1:]):
        raise ValueError(f"the model has batch norm, whose statistics are the training data's, but there is "
                         f"{n_train} training example with one value per channel: give at least two examples")
    if untracked:
        warnings.warn(
            f"batch-norm layers {untracked} have track_running_stats=False: torch evaluates them with each batch's "
            f"own statistics, but this landscape uses the training data's statistics at theta everywhere (also on "
            f"the test split); module_at(theta) gives a module that evaluates as the landscape does",
            BatchNormPolicyWarning, stacklevel=4)
    if stored:
        warnings.warn(
            f"batch-norm layers {stored} hold running statistics from earlier training: this landscape does not "
            f"use them (the loss at theta uses the training data's statistics at theta), so its numbers differ "
            f"from the module's own eval() by the difference between the two; module_at(theta) gives a module "
            f"with the landscape's statistics",
            BatchNormPolicyWarning, stacklevel=4)
    return layers


def check_stateless(model: nn.Module, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                    x: torch.Tensor) -> None:
    """Check that a trial forward pass in training mode changes neither the model's buffers nor its parameters.

    A landscape's loss is a function of ``theta`` alone; a module that counts its calls in a buffer or
    updates statistics other than batch norm's (which the landscape never reads) would make it depend on
    the history of evaluations. The pass runs on a few examples, on copies of the parameters and buffers,
    with torch's random state forked (dropout masks drawn here do not change later draws).

    Args:
        model: the landscape's private copy of the network (switched back to ``eval`` mode afterwards).
        params: its parameters by name.
        buffers: its buffers by name.
        x: a few training inputs.

    Raises:
        ValueError: naming the buffers (or the parameters) that the forward pass changed.
    """
    if x.device.type == "meta":
        return
    skip = {f"{n}.{b}" if n else b for n, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) for b, _ in m.named_buffers(recurse=False)}
    p_copy = {k: v.detach().clone() for k, v in params.items()}
    b_copy = {k: v.detach().clone() for k, v in buffers.items()}
    devices = [x.device] if x.device.type == "cuda" else []
    model.train()
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.func.functional_call(model, (p_copy, b_copy), (x,))
    except (RuntimeError, ValueError, IndexError, TypeError):
        return  # training-mode failures (batch norm on one example) show up where they happen, with their message
    finally:
        model.eval()
    changed = [k for k in buffers if k not in skip and not torch.equal(b_copy[k], buffers[k])]
    if changed:
        raise ValueError(f"the model's forward pass changed its buffers {changed}: a landscape is a function of "
                         f"the parameters alone, and lsl does not support modules that keep state between calls "
                         f"(other than batch norm's running statistics, which lsl never reads)")
    moved = [k for k in params if not torch.equal(p_copy[k], params[k])]
    if moved:
        raise ValueError(f"the model's forward pass changed its parameters {moved} in place: lsl does not support "
                         f"modules that keep state between calls")
