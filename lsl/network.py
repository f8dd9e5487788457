"""A network and its data as a landscape: the training loss as a function of the flat parameters.

:class:`NetworkLandscape` is the :class:`~lsl.landscape.Landscape` of every network in the book. The
``nn.Module`` only describes the architecture; the parameters come from a flat vector ``theta``
(:class:`~lsl.landscape.FlatView` names its blocks), and a batch of points ``[B, D]`` is evaluated in
vectorised calls (``torch.func.vmap``, or :class:`lsl.stack.LayerStack` for a layer stack without
gradients) sized by the evaluation policy (:mod:`lsl.batching`). What it checks when it is built (the
device policy, the targets, a trial forward pass) is in :mod:`lsl.network_checks`.

``from lsl.landscape import NetworkLandscape`` still works: :mod:`lsl.landscape` serves the name.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from lsl import batching, cache, network_checks
from lsl.landscape import FlatView, Landscape, tensor_digest
from lsl.network_checks import check_normalization, check_split, check_stateless, check_targets, resolve_device
from lsl.stack import ROW_LOSSES, LayerStack

__all__ = ["NetworkLandscape"]


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits, y)


_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "cross_entropy": _cross_entropy,
    # Written out rather than F.mse_loss, whose forward-mode derivative fails on a constant target.
    "mse": lambda logits, y: ((logits - nn.functional.one_hot(y, logits.shape[-1]).to(logits.dtype)) ** 2).mean(),
}


def _bn_forward(module: nn.Module, ref: int | None, inp: torch.Tensor) -> torch.Tensor:
    """A batch-norm layer under the landscape's policy: normalise with batch statistics, never the stored ones.

    ``ref=None``: the statistics of the whole input (torch's training-mode batch norm, running statistics
    neither read nor written). ``ref=n``: the statistics of the first ``n`` rows (the training data),
    applied to every row. Variances are biased (divided by the count), as torch normalises in training mode.
    """
    module._check_input_dim(inp)
    if ref is None:
        return nn.functional.batch_norm(inp, None, None, module.weight, module.bias, True, 0.0, module.eps)
    dims = [0, *range(2, inp.dim())]
    var, mean = torch.var_mean(inp[:ref], dim=dims, correction=0, keepdim=True)
    out = (inp - mean) * torch.rsqrt(var + module.eps)
    if module.weight is not None:
        shape = [1, -1] + [1] * (inp.dim() - 2)
        out = out * module.weight.reshape(shape) + module.bias.reshape(shape)
    return out


@contextlib.contextmanager
def _batch_statistics(layers: list[nn.Module], ref: int | None):
    """Within the block, the batch-norm ``layers`` follow :func:`_bn_forward` with ``ref``."""
    for m in layers:
        m.forward = functools.partial(_bn_forward, m, ref)
    try:
        yield
    finally:
        for m in layers:
            m.__dict__.pop("forward", None)


class NetworkLandscape(Landscape):
    """The training loss of a network on a data set, as a function of its flat parameters.

    The ``nn.Module`` only *describes* the architecture: evaluations go through
    ``torch.func.functional_call`` with parameters taken from a flat vector,
    so the module itself is never mutated. A batch of parameter vectors
    ``[B, D]`` is evaluated with ``torch.func.vmap`` (or, for a layer stack without gradients,
    :class:`lsl.stack.LayerStack`), in calls sized by the evaluation policy (:mod:`lsl.batching`).

    **Device policy** (one rule, followed by every ``lsl`` function that builds a landscape):
    an explicit ``device=`` wins, and the model and every data tensor are moved there;
    otherwise the landscape computes **where the data are** (``x``, ``y``, ``x_test``,
    ``y_test`` must then sit on one device) and a private copy of the model is moved to
    them. The data win because they are the large, shared tensors (one data set serves
    many landscapes: seeds, families, widths) while the model is small and copied anyway,
    and because :func:`lsl.data.nets.make` builds models on the CPU while
    :func:`lsl.data.datasets.load` puts the data on the chapter's device. A model on the ``meta``
    device (no values) cannot be moved to a real device and is rejected; data on
    ``meta`` give a landscape on ``meta`` (shapes only), which checks shapes without computing.
    Every result (losses, gradients, Hessian-vector products, logits, predictions,
    accuracies, :attr:`theta0`) comes back on :attr:`device`; points and inputs given on
    another device are moved to it.

    **Checks at construction.** One trial forward pass on the first few training (and
    test) examples checks that the model can take the inputs (otherwise a ``ValueError``
    names the data's shape and what the model's first layer expects), and the targets are
    checked against the loss: for ``"cross_entropy"`` and ``"mse"`` they must be integer
    class labels ``[N]`` in ``[0, C)`` for a model with ``C`` outputs; for a callable
    loss the trial loss on those examples must evaluate to a scalar. Empty data and
    non-finite inputs are rejected. (Value checks are skipped on ``meta``, which has no values.)

    Args:
        model: the architecture; its current parameters become :attr:`theta0`.
        x, y: training inputs and targets: integer class labels for the built-in losses; a
            callable loss may take other targets (floating-point targets are cast to ``dtype``).
        loss: ``"cross_entropy"`` (default), ``"mse"`` (on one-hot targets) or a
            callable ``(logits, y) -> scalar``.
        x_test, y_test: an optional held-out split for :meth:`accuracy`.
        device: where to compute (see the device policy above; default: the data's device).
        dtype: the precision to evaluate in (default: the model's first parameter's dtype).
        chunk_size: evaluate batched points (and batches of Hessian-vector products) in vectorised
            calls of this many, on every device; it wins over the evaluation policy. By default
            (``None``) the policy of :mod:`lsl.batching` decides from the device's budget
            (:data:`lsl.batching.BUDGETS`): on a CPU a call takes a bounded number of point-example
            evaluations (points x examples), on a GPU a bounded number of parameter values.

    Raises:
        TypeError: if the model is not a module or the data are not tensors.
        ValueError: for data the model cannot take, targets the loss cannot take, empty or
            non-finite data, data on several devices without ``device=``, or a model on ``meta``.

    Evaluation mode: the loss is evaluated with the model in ``eval`` mode
    (dropout off), so it is a deterministic function of ``theta``. Pass ``train=True`` to :meth:`loss` to
    switch dropout on, as a trainer does.

    **Batch norm** (one policy, followed by every ``lsl`` function). For a model with batch-norm layers
    (``nn.BatchNorm1d/2d/3d`` and their subclasses), the loss at ``theta`` is the loss of the network whose
    batch-norm statistics are *the training data's statistics at* ``theta``: each layer normalises with the
    mean and the biased variance (divided by the count, as torch normalises in training mode) of its
    inputs over all training examples (``x``; for :meth:`subset` its ``n`` examples), computed in a pass at
    ``theta`` with dropout off -- the way curve-finding papers recompute them at every point of a curve.
    The stored running statistics are never read or written, so a network trained by ``lsl`` evaluates as
    trained. Concretely:

    - ``loss``, ``grad``, ``hvp``, ``logits``, ``predict``, ``accuracy``, ``eval_loss`` and ``forward`` at
      ``theta`` use the training data's statistics at ``theta``, also on the test split, on a subset
      ``idx`` of the examples and on other inputs ``x`` (each such call also runs the training inputs
      through the network at ``theta``; its cost is that of a full-batch pass). On the whole training set
      this equals torch's training-mode forward pass with the whole training set as one batch.
    - The statistics are functions of ``theta`` and are differentiated: ``grad``, ``hvp``, the Hessian and
      the Gauss-Newton term are those of this deterministic function.
    - A batch of points ``[B, D]`` (``vmap``, ``loss_affine``) computes each point's statistics for that point.
    - Trainers (``train=True`` with a minibatch ``idx``) normalise with the *minibatch's* statistics, as
      torch does in training mode, so a trainer follows the same trajectory as a plain torch loop in
      ``train()`` mode; a full-batch trainer's loss is the evaluation loss.
    - :meth:`module_at` returns a module whose running statistics are the training data's statistics at
      ``theta`` (biased variance), so its ``eval()`` forward pass gives this landscape's numbers.

    A torch model evaluated in ``eval()`` after its own training uses running averages of minibatch
    statistics along the trajectory instead; the two differ slightly (tested in ``tests/test_batchnorm.py``).
    Building a landscape warns (:class:`lsl.network_checks.BatchNormPolicyWarning`) where the module's
    own ``eval()`` would give other numbers than this policy: stored statistics already computed (a
    trained model's), or layers built with ``track_running_stats=False`` (which torch evaluates with
    each batch's own statistics). Batch norm needs at least two training values per channel.

    **Attention** (``nn.MultiheadAttention``, hence ``nn.TransformerEncoderLayer``) is evaluated with torch's
    math kernel (``torch.nn.attention.SDPBackend.MATH``) and without the fused evaluation fast path: the
    fused kernels have no forward-mode derivative, which Hessian-vector products need, nor a ``vmap``
    rule. A module that calls ``F.scaled_dot_product_attention`` itself should do the same for :meth:`hvp`.

    **Not supported** (a ``ValueError`` at construction): modules whose forward pass changes their buffers
    or parameters (other than batch norm's running statistics, which ``lsl`` never uses), and instance norm
    with ``track_running_stats=True`` (stored statistics that nothing updates). Examples must be
    independent along the first dimension apart from batch norm.
    """

    #: How many examples the trial forward pass at construction uses (see :func:`lsl.network_checks.check_split`).
    TRIAL_EXAMPLES = network_checks.TRIAL_EXAMPLES

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "cross_entropy",
        x_test: torch.Tensor | None = None,
        y_test: torch.Tensor | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        chunk_size: int | None = None,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError("x and y must be tensors (inputs and integer labels)")
        if (x_test is None) != (y_test is None):
            raise ValueError("give both x_test and y_test, or neither")
        if x_test is not None and (not isinstance(x_test, torch.Tensor) or not isinstance(y_test, torch.Tensor)):
            raise TypeError("x_test and y_test must be tensors (inputs and integer labels)")
        if isinstance(loss, str):
            if loss not in _LOSSES:
                raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(_LOSSES)} or pass a callable")
            self._criterion = _LOSSES[loss]
        elif callable(loss):
            self._criterion = loss
        else:
            raise TypeError(f"loss must be a name or a callable (logits, y) -> scalar, got {type(loss).__name__}")
        builtin = isinstance(loss, str)
        self._loss_name = loss if isinstance(loss, str) else getattr(loss, "__qualname__", repr(loss))
        for xs, ys, split in ((x, y, "training"), (x_test, y_test, "test")):
            if xs is None:
                continue
            if xs.dim() == 0 or xs.shape[0] == 0:
                raise ValueError(f"the {split} data are empty (inputs of shape {tuple(xs.shape)}): "
                                 f"give at least one example")
            if ys.dim() == 0 or xs.shape[0] != ys.shape[0]:
                raise ValueError(f"{split} inputs and labels disagree on the number of examples: "
                                 f"{xs.shape[0]} vs {ys.shape[0] if ys.dim() else 'a 0-d tensor'}")
        first = next(iter(model.parameters()), None)
        if first is None:
            raise ValueError("the model has no parameters")
        self.device = resolve_device(model, device, x=x, y=y, x_test=x_test, y_test=y_test)
        self.dtype = dtype or first.dtype
        # A private copy: the caller's module is never converted or mutated.
        self.model = copy.deepcopy(model).to(device=self.device, dtype=self.dtype).eval()
        self.view = FlatView.from_module(self.model)
        self.D = self.view.D
        params = dict(self.model.named_parameters())
        self.theta0: torch.Tensor = self.view.flatten({k: v.detach() for k, v in params.items()}).clone()
        self.buffers = {k: b.detach() for k, b in self.model.named_buffers()}
        self.x = x.to(self.device, dtype=self.dtype if x.is_floating_point() else x.dtype)
        self.y = self._targets(y, builtin)
        self.x_test = None if x_test is None else x_test.to(self.device, dtype=self.x.dtype)
        self.y_test = None if y_test is None else self._targets(y_test, builtin)
        self.n_train = int(x.shape[0])
        self.chunk_size = chunk_size
        self._has_dropout = any(isinstance(m, nn.modules.dropout._DropoutNd) for m in self.model.modules())
        # Attention: torch's fused attention kernels have no forward-mode derivative (Hessian-vector products
        # are forward-over-reverse), so a model with attention layers evaluates with the math kernel.
        self._attention: bool = any(isinstance(m, nn.MultiheadAttention) for m in self.model.modules())
        #: The batch-norm layers of :attr:`model` (see the batch-norm policy above); empty for most networks.
        self._bn_layers: list[nn.Module] = check_normalization(self.model, n_train=self.n_train,
                                                               example_shape=tuple(self.x.shape[1:]))
        #: The batched forward pass used for evaluations without gradients, or ``None`` (see :mod:`lsl.stack`).
        self.stack: LayerStack | None = LayerStack.of(self.model, self.view)
        self._check("training", self.x, self.y, builtin)
        if self.x_test is not None:
            self._check("test", self.x_test, self.y_test, builtin)
        check_stateless(self.model, self.view.unflatten(self.theta0), self.buffers, self.x[:self.TRIAL_EXAMPLES])

    @classmethod
    def from_dataset(cls, model: nn.Module, dataset, **kwargs) -> "NetworkLandscape":
        """The landscape of ``model`` on a :class:`lsl.data.datasets.Dataset` (its training split, and its test split for accuracies).

        ``NetworkLandscape.from_dataset(model, ds, device=device)`` is
        ``NetworkLandscape(model, ds.x_train, ds.y_train, x_test=ds.x_test, y_test=ds.y_test, device=device)``;
        other keyword arguments (``loss``, ``dtype``, ``chunk_size``, ``device``) are passed on.
        """
        for name in ("x_train", "y_train"):
            if not hasattr(dataset, name):
                raise TypeError(f"dataset must have x_train and y_train (an lsl.data.datasets.Dataset), got {type(dataset).__name__}")
        return cls(model, dataset.x_train, dataset.y_train, x_test=getattr(dataset, "x_test", None),
                   y_test=getattr(dataset, "y_test", None), **kwargs)

    @property
    def criterion(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The loss as a function ``(logits [N, C], targets [N]) -> scalar``."""
        return self._criterion

    @property
    def builtin_loss(self) -> str | None:
        """``"cross_entropy"`` or ``"mse"`` for a built-in loss (whose curvature in the logits is known), else ``None``."""
        return self._loss_name if _LOSSES.get(self._loss_name) is self._criterion else None

    def subset(self, n: int) -> "NetworkLandscape":
        """The same network on its first ``n`` training examples (all of them if there are fewer).

        For quantities estimated on part of the training set -- a Hessian spectrum or the short
        directions on a few thousand examples, the training loss of many points -- pass
        ``L.subset(n)`` instead of threading ``idx=`` through every call. The result is a landscape of
        its own with the same module, ``theta0``, ``D``, loss, device, dtype, ``chunk_size`` and test
        split; without batch norm its values equal those of ``idx=torch.arange(n)`` on this landscape. With
        batch norm the subset is a landscape of its own under the policy: its statistics are those of its ``n``
        examples (so a Hessian-vector product on it costs a pass over ``n`` examples, not over all of them),
        whereas ``idx=`` keeps the whole training set's statistics.

        Args:
            n: how many training examples, from the first; at least 1.

        Returns:
            A :class:`NetworkLandscape` whose training set is ``x[:n], y[:n]``.

        Raises:
            ValueError: if ``n`` is not a positive integer.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"subset takes a positive number of training examples, got {n!r}")
        n = min(n, self.n_train)
        loss = self._loss_name if self.builtin_loss else self._criterion
        return NetworkLandscape(self.model, self.x[:n], self.y[:n], loss=loss, x_test=self.x_test, y_test=self.y_test,
                                device=self.device, dtype=self.dtype, chunk_size=self.chunk_size)

    def data(self, idx=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The training inputs and targets, or those of the examples ``idx`` (indices or a mask)."""
        return self._data(idx)

    def loss_on(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss at one point ``theta [D]`` on given examples ``(x, y)``: functional and differentiable.

        No checks and no conversions, so that ``torch.func`` transforms (``grad``, ``jvp``, ``vmap``)
        can wrap it; ``x`` and ``y`` must already be on :attr:`device`.
        """
        return self._single_loss(theta, x, y)

    def module_at(self, theta: torch.Tensor) -> nn.Module:
        """A copy of the network with the parameters ``theta [D]`` loaded, in evaluation mode (for use outside ``lsl``).

        With batch norm, its running statistics are the policy's (the training data's mean and biased variance
        at ``theta``, :meth:`batchnorm_statistics`; a layer built with ``track_running_stats=False`` is given
        them), so the module's ``eval()`` outputs are this landscape's.
        """
        theta = self.check_theta(theta)
        if theta.dim() != 1:
            raise ValueError(f"module_at takes one point [D]; got shape {tuple(theta.shape)}")
        module = copy.deepcopy(self.model)
        with torch.no_grad():
            for name, value in self.view.unflatten(theta.detach()).items():
                module.get_parameter(name).copy_(value)
            if self._bn_layers:
                stats = self.batchnorm_statistics(theta.detach())
                for name, (mean, var) in stats.items():
                    m = module.get_submodule(name)
                    if m.running_mean is None:  # track_running_stats=False: give it stored statistics
                        m.register_buffer("running_mean", mean.clone())
                        m.register_buffer("running_var", var.clone())
                        m.track_running_stats = True
                    else:
                        m.running_mean.copy_(mean)
                        m.running_var.copy_(var)
        return module.eval()

    def batchnorm_statistics(self, theta: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The batch-norm statistics of the policy at one point: each layer's mean and biased variance over the training data.

        Args:
            theta: one point ``[D]``.

        Returns:
            ``{layer name: (mean [C], variance [C])}``, in the order of the layers (empty without batch
            norm); differentiable with respect to ``theta``.

        Raises:
            ValueError: if ``theta`` is not one point ``[D]``.
        """
        theta = self.check_theta(theta)
        if theta.dim() != 1:
            raise ValueError(f"batchnorm_statistics takes one point [D]; got shape {tuple(theta.shape)}")
        names = {id(m): n for n, m in self.model.named_modules()}
        out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

        def record(m, args):
            inp = args[0]
            var, mean = torch.var_mean(inp, dim=[0, *range(2, inp.dim())], correction=0)
            out[names[id(m)]] = (mean, var)

        hooks = [m.register_forward_pre_hook(record) for m in self._bn_layers]
        try:
            self._forward(theta, self.x, own_stats=True)
        finally:
            for h in hooks:
                h.remove()
        return out

    # -- construction helpers (the checks themselves are in lsl.network_checks) --------
    def _targets(self, y: torch.Tensor, builtin: bool) -> torch.Tensor:
        """Targets on this landscape's device (:func:`lsl.network_checks.check_targets`)."""
        return check_targets(y, builtin=builtin, loss_name=self._loss_name, device=self.device, dtype=self.dtype)

    def _check(self, split: str, x: torch.Tensor, y: torch.Tensor, builtin: bool) -> None:
        """A trial forward pass and loss on a few examples of a split (:func:`lsl.network_checks.check_split`)."""
        check_split(split, x, y, forward=lambda inputs: self._forward(self.theta0, inputs), criterion=self._criterion,
                    loss_name=self._loss_name, builtin=builtin, model=self.model, trial_examples=self.TRIAL_EXAMPLES)

    def theta_of(self, model: nn.Module) -> torch.Tensor:
        """The flat parameter vector ``[D]`` of another instance of this landscape's architecture.

        Use it to turn differently seeded copies of the network into points of this
        landscape: ``torch.stack([L.theta_of(make(seed=s)) for s in seeds])``. The
        result is on this landscape's device and dtype; the model is not changed.
        Raises ``ValueError`` if the model's trainable parameters differ in name or shape.
        """
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        other = FlatView.from_module(model)
        if [(s.name, s.shape) for s in other.slots] != [(s.name, s.shape) for s in self.view.slots]:
            raise ValueError(
                "the model's parameters do not match this landscape's architecture "
                f"({other.D} vs {self.D} parameters); build it with the same architecture and options"
            )
        params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
        return self.view.flatten(params).to(self.device, self.dtype)

    def fingerprint(self) -> dict:
        """What determines this landscape's values, for cache keys: the computation, not its name.

        The module by :func:`lsl.cache.module_digest` (the code of every submodule's class, its
        attributes, buffers and the parameters that ``theta`` does not give; the trainable parameters
        come from ``theta``, which callers digest), the loss (a built-in one by its name, a callable by
        :func:`lsl.cache.value_digest`: its code and the values it closes over), the precision and a
        digest of the data. A subclass is digested too (its class and what it defines).

        Raises:
            lsl.cache.UntrustedKey: if a part of the module or the loss cannot be digested (e.g. a loss
                closing over an object with arbitrary state); callers then compute without the cache.
        """
        tensors = [self.x, self.y] + ([self.x_test, self.y_test] if self.x_test is not None else [])
        out = {
            "kind": "network",
            "architecture": repr(self.model),
            "module": cache.module_digest(self.model, skip=set(self.view.names), where="the model"),
            "loss": self.builtin_loss or cache.value_digest(self._criterion, where=f"the loss {self._loss_name}"),
            "dtype": str(self.dtype),
            "data": tensor_digest(*tensors),
        }
        if type(self) is not NetworkLandscape:
            out["class"] = cache.value_digest(type(self), where=f"the landscape class {type(self).__qualname__}")
        return out

    # -- functional core ------------------------------------------------------
    def _forward(self, theta: torch.Tensor, x: torch.Tensor, own_stats: bool = False) -> torch.Tensor:
        """The network's outputs at ``theta`` on ``x``; batch norm (if any) follows the policy (class docstring).

        ``own_stats``: batch norm normalises with the statistics of ``x`` itself (``x`` is the whole training
        set, or a trainer's minibatch); otherwise with those of the training inputs, which are run through
        the network together with ``x``. Without batch norm ``own_stats`` makes no difference.
        """
        if self._attention:
            fast = torch.backends.mha.get_fastpath_enabled()
            torch.backends.mha.set_fastpath_enabled(False)  # the fused eval-mode path has no vmap rule
            try:
                with sdpa_kernel([SDPBackend.MATH]):
                    return self._forward_any(theta, x, own_stats)
            finally:
                torch.backends.mha.set_fastpath_enabled(fast)
        return self._forward_any(theta, x, own_stats)

    def _forward_any(self, theta: torch.Tensor, x: torch.Tensor, own_stats: bool) -> torch.Tensor:
        params = self.view.unflatten(theta)
        # Modules that update buffers in training mode get copies, so that the landscape never changes under a
        # trainer (batch norm's running statistics are not even read: see the policy).
        buffers = {k: b.clone() for k, b in self.buffers.items()} if self.model.training else self.buffers
        if not self._bn_layers:
            return functional_call(self.model, (params, buffers), (x,))
        if own_stats:
            with _batch_statistics(self._bn_layers, None):
                return functional_call(self.model, (params, buffers), (x,))
        n = self.x.shape[0]
        with _batch_statistics(self._bn_layers, n):
            out = functional_call(self.model, (params, buffers), (torch.cat([self.x, x]),))
        return out[n:]

    def _single_loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, own_stats: bool = False) -> torch.Tensor:
        return self._criterion(self._forward(theta, x, own_stats), y)

    def _data(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        if idx is None:
            return self.x, self.y
        return self.x[idx], self.y[idx]

    def _vmap_chunk(self, n_examples: int, n_points: int, random: bool = False) -> int | None:
        """The ``chunk_size`` of a vmap over ``n_points`` points (or vectors) that each see ``n_examples`` examples.

        Decided by the evaluation policy (:func:`lsl.batching.vmap_chunk_size`): :attr:`chunk_size` if
        given, one call when drawing dropout masks (``random``), else the device's budget.
        """
        return batching.vmap_chunk_size(self.device, n_examples, self.D, n_points, chunk_size=self.chunk_size,
                                        random=random)

    def _uses_stack(self, theta: torch.Tensor, train: bool = False) -> bool:
        """Whether an evaluation at ``theta`` may take the layer stack's path (no gradients, eval mode)."""
        return (self.stack is not None and not train and not torch.is_grad_enabled()
                and not torch._C._functorch.is_functorch_wrapped_tensor(theta))

    def _rows_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss of each row of logits ``[P, N, C]`` -> ``[P]``."""
        rows = ROW_LOSSES.get(self.builtin_loss)
        if rows is not None:
            return rows(logits, y)
        return vmap(self._criterion, in_dims=(0, None))(logits, y)

    def _stack_loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        step = self._points_per_call(x.shape[0], theta.shape[0])
        return torch.cat([self._rows_loss(self.stack.logits(t, x), y) for t in theta.split(step)])

    def loss_affine(self, origin: torch.Tensor, directions: torch.Tensor, coeffs: torch.Tensor, *,
                    max_elements: int | None = None, idx=None, train: bool = False) -> torch.Tensor:
        """The loss at ``origin + coeffs @ directions`` (see :meth:`Landscape.loss_affine`), without gradients.

        For a layer stack the first layer's output is computed once for the origin and once per
        direction, and combined per point (:meth:`lsl.stack.LayerStack.affine_logits`), in calls of
        as many points as the evaluation policy allows (:mod:`lsl.batching`).

        Args:
            origin: ``[D]``.
            directions: ``[K, D]``.
            coeffs: the points' coordinates ``[P, K]``.
            max_elements: at most this many parameter values at once (``None``: the device's budget).
            idx: optional subset of the training examples.
            train: evaluate in training mode (dropout on); takes the generic path.

        Returns:
            ``[P]``, on this landscape's device.
        """
        origin, directions, coeffs = self._check_family(origin, directions, coeffs)
        if self.stack is None or train or directions.shape[0] > 16:
            return super().loss_affine(origin, directions, coeffs, max_elements=max_elements, idx=idx, train=train)
        x, y = self._data(idx)
        with torch.no_grad():
            z0 = self.stack.first_layer(origin.unsqueeze(0), x)[0]
            zs = self.stack.first_layer(directions, x)
            step = min(self._points_per_call(x.shape[0], coeffs.shape[0]),
                       batching.points_per_batch(self.device, self.D, coeffs.shape[0], max_elements=max_elements))
            out = [self._rows_loss(self.stack.affine_logits(z0, zs, c, origin + c @ directions), y)
                   for c in coeffs.split(step)]
        return torch.cat(out)

    def _seen(self, n_examples: int, own_stats: bool) -> int:
        """How many examples a point's forward pass takes: with batch norm on other inputs, the training set too."""
        return n_examples if own_stats or not self._bn_layers else n_examples + self.n_train

    def _points_per_call(self, n_examples: int, n_points: int) -> int:
        """How many of ``n_points`` points one batched evaluation on ``n_examples`` examples takes (see :meth:`_vmap_chunk`)."""
        return self._vmap_chunk(n_examples, n_points) or n_points

    def _loss_batch(self, theta: torch.Tensor, *, idx=None, train: bool = False) -> torch.Tensor:
        x, y = self._data(idx)
        rows = _per_point(idx, theta)  # idx [B, N]: each point its own examples
        if not rows and self._uses_stack(theta, train):
            return self._stack_loss(theta, x, y)
        own = train or idx is None  # batch norm: a trainer's minibatch, or the whole training set (the policy)
        self.model.train(train)
        try:
            if theta.shape[0] == 1:  # one point: skip vmap's overhead (about 2x on small nets)
                return self._single_loss(theta[0], x[0] if rows else x, y[0] if rows else y, own).unsqueeze(0)
            randomness = "different" if (train and self._has_dropout) else "error"
            single = functools.partial(self._single_loss, own_stats=own)
            f = vmap(single, in_dims=(0, 0, 0) if rows else (0, None, None), randomness=randomness,
                     chunk_size=self._vmap_chunk(self._seen(y.shape[-1], own), theta.shape[0], randomness != "error"))
            return f(theta, x, y)
        finally:
            self.model.eval()

    # -- derivatives ----------------------------------------------------------
    def grad(self, theta: torch.Tensor, *, idx=None, train: bool = False) -> torch.Tensor:
        """Gradient of the (mini-batch, if ``idx`` is given) loss; ``[D]`` or ``[B, D]``.

        A batch is vectorised in calls of as many points as the evaluation policy allows (:mod:`lsl.batching`).
        """
        theta = self.check_theta(theta, finite=False)
        x, y = self._data(idx)
        own = train or idx is None  # batch norm: see the policy
        self.model.train(train)
        try:
            g = grad(functools.partial(self._single_loss, own_stats=own))
            if theta.dim() == 1:
                return g(theta, x, y)
            randomness = "different" if (train and self._has_dropout) else "error"
            chunk = self._vmap_chunk(self._seen(x.shape[0], own), theta.shape[0], randomness != "error")
            return vmap(g, in_dims=(0, None, None), randomness=randomness, chunk_size=chunk)(theta, x, y)
        finally:
            self.model.eval()

    @property
    def backprop_by_hand(self) -> bool:
        """Whether :meth:`loss_and_grad` uses back-propagation written out (a layer stack with a built-in loss)."""
        return self.stack is not None and self.stack.trains(self.builtin_loss)

    def _trains_by_hand(self, theta: torch.Tensor) -> bool:
        """Whether :meth:`loss_and_grad` at ``theta`` may take the layer stack's written-out back-propagation."""
        return self.backprop_by_hand and not torch._C._functorch.is_functorch_wrapped_tensor(theta)

    def loss_and_grad(self, theta: torch.Tensor, *, idx=None, train: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The (mini-batch, if ``idx`` is given) loss and its gradient: ``[D]`` -> (scalar, ``[D]``), ``[B, D]`` -> (``[B]``, ``[B, D]``).

        For a layer stack with a built-in loss this is back-propagation written out
        (:meth:`lsl.stack.LayerStack.loss_and_grad`, no autograd graph); otherwise autograd
        (:meth:`grad`). In training mode dropout draws its masks
        from torch's global generator either way.
        """
        theta = self.check_theta(theta, finite=False)
        if not self._trains_by_hand(theta):
            return super().loss_and_grad(theta, idx=idx, train=train)
        x, y = self._data(idx)
        points = theta.detach().reshape(-1, self.D)
        if _per_point(idx, points):
            x = x.reshape(x.shape[0], x.shape[1], -1)  # [B, N, features]: each point its own examples
        value, g = self.stack.loss_and_grad(points, x, y, self.builtin_loss, train=train and self._has_dropout)
        if theta.dim() == 1:
            return value[0], g[0]
        return value, g

    def first_order_loss(self, theta: torch.Tensor, *, idx=None, train: bool = False) -> torch.Tensor:
        """The loss for a trainer, differentiable once (see :meth:`Landscape.first_order_loss`).

        For a layer stack with a built-in loss, when a gradient is wanted, the value and its gradient
        come from :meth:`loss_and_grad` in one pass and the backward pass only scales the stored
        gradient; asking for a second derivative through it raises an error. Otherwise :meth:`loss`.
        """
        theta = self.check_theta(theta, finite=False)
        if not (torch.is_grad_enabled() and theta.requires_grad and self._trains_by_hand(theta)):
            return self.loss(theta, idx=idx, train=train)
        return _FirstOrderLoss.apply(theta, self, idx, train)

    def hvp(self, theta: torch.Tensor, v: torch.Tensor, *, idx=None) -> torch.Tensor:
        """Hessian-vector product by forward-over-reverse differentiation (``torch.func.jvp`` of ``grad``).

        ``theta`` is one point ``[D]``; ``v`` is ``[D]`` or ``[K, D]`` (vectorised over the K vectors, in
        calls of as many vectors as the evaluation policy allows, :mod:`lsl.batching`).
        """
        theta = self.check_theta(theta, finite=False)
        if theta.dim() != 1:
            raise ValueError("hvp takes a single point theta of shape [D]")
        v = self.check_theta(v, "v", finite=False)
        x, y = self._data(idx)
        own = idx is None  # batch norm: see the policy
        g = grad(lambda t: self._single_loss(t, x, y, own))

        def one(vec):
            return jvp(g, (theta,), (vec,))[1]

        if v.dim() == 1:
            return one(v)
        return vmap(one, chunk_size=self._vmap_chunk(self._seen(x.shape[0], own), v.shape[0]))(v)

    # -- predictions ----------------------------------------------------------
    def forward(self, theta: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """The module's own forward pass at one point ``theta [D]`` on inputs ``x`` (default: training inputs).

        Unlike :meth:`logits`, this always runs the ``nn.Module`` (through ``functional_call``), so
        forward hooks registered on :attr:`model`'s submodules see every layer. Evaluation mode;
        differentiable. With batch norm (see the policy in the class docstring) and inputs other than the
        training inputs, the module runs on the training inputs followed by ``x``, so hooks see both.
        """
        theta = self.check_theta(theta, finite=False)
        if theta.dim() != 1:
            raise ValueError(f"forward takes one point [D]; got shape {tuple(theta.shape)} (use logits for a batch)")
        x = self.x if x is None else x.to(self.device, dtype=self.x.dtype)
        return self._forward(theta, x, x is self.x)

    def logits(self, theta: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Network outputs at ``theta`` (``[D]`` -> ``[N, C]``; ``[B, D]`` -> ``[B, N, C]``), eval mode.

        ``x`` defaults to the training inputs.
        """
        theta = self.check_theta(theta, finite=False)
        x = self.x if x is None else x.to(self.device, dtype=self.x.dtype)
        if self._uses_stack(theta):
            if theta.dim() == 1:
                return self.stack.logits(theta.unsqueeze(0), x)[0]
            step = self._points_per_call(x.shape[0], theta.shape[0])
            return torch.cat([self.stack.logits(t, x) for t in theta.split(step)])
        own = x is self.x  # batch norm: the training set's own statistics, else the training set's (the policy)
        if theta.dim() == 1:
            return self._forward(theta, x, own)
        return vmap(functools.partial(self._forward, own_stats=own), in_dims=(0, None),
                    chunk_size=self._vmap_chunk(self._seen(x.shape[0], own), theta.shape[0]))(theta, x)

    def split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and labels of ``"train"`` or ``"test"``."""
        if split == "train":
            return self.x, self.y
        if split == "test":
            if self.x_test is None:
                raise ValueError("this landscape has no test split: pass x_test and y_test")
            return self.x_test, self.y_test
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")

    def predict(self, theta: torch.Tensor, split: str = "train") -> torch.Tensor:
        """Predicted class labels on a split (``[N]``, or ``[B, N]`` for a batch of points)."""
        x, _ = self.split(split)
        with torch.no_grad():
            return self.logits(theta, x).argmax(-1)

    def accuracy(self, theta: torch.Tensor, split: str = "train") -> torch.Tensor:
        """Classification accuracy on a split (scalar, or ``[B]`` for a batch of points)."""
        _, y = self.split(split)
        return (self.predict(theta, split) == y).to(self.dtype).mean(-1)

    def eval_loss(self, theta: torch.Tensor, split: str = "train") -> torch.Tensor:
        """The loss on a split without gradients (scalar or ``[B]``)."""
        x, y = self.split(split)
        with torch.no_grad():
            out = self.logits(theta, x)
            if out.dim() == 2:
                return self._criterion(out, y)
            return vmap(self._criterion, in_dims=(0, None))(out, y)


def _per_point(idx, theta: torch.Tensor) -> bool:
    """Whether ``idx`` gives each of the points ``theta [B, D]`` its own examples (``idx [B, N]``)."""
    if idx is None or not isinstance(idx, torch.Tensor) or idx.dim() != 2:
        return False
    if theta.dim() != 2 or idx.shape[0] != theta.shape[0]:
        raise ValueError(f"idx of shape {tuple(idx.shape)} gives examples per point: it needs one row per point of "
                         f"theta, got theta of shape {tuple(theta.shape)}")
    return True


class _FirstOrderLoss(torch.autograd.Function):
    """The landscape's loss whose backward pass uses the gradient computed with it (first derivatives only)."""

    @staticmethod
    def forward(ctx, theta, landscape, idx, train):
        value, g = landscape.loss_and_grad(theta, idx=idx, train=train)
        ctx.save_for_backward(g)
        return value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        (g,) = ctx.saved_tensors
        scale = grad_output.unsqueeze(-1) if g.dim() > grad_output.dim() else grad_output
        return scale * g, None, None, None
