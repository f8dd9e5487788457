"""A batched forward pass for layer stacks: many parameter vectors of one MLP at once.

Most of the book's networks are *layer stacks*: a chain of ``nn.Linear`` layers and
element-wise activations (an :class:`lsl.data.nets.MLP`). Evaluating such a network at ``P``
parameter points on the same ``N`` examples is ``P`` independent forward passes, and
``torch.func.vmap`` turns them into batched matrix products. That is general, but on a CPU
it is no faster than a plain loop over the points (``benchmarks/loss_plane_51.py``): vmap
adds each layer's bias in a separate pass over memory, allocates every activation anew, and
``torch.tanh`` costs about 1.5-2 ns per element on the CPUs measured, more than the matrix
products it follows.

:class:`LayerStack` is the same forward pass written for a batch of points:

- every layer is one fused ``baddbmm`` (bias plus batched product, one pass over memory);
- activations are applied in place (under ``torch.no_grad`` nothing needs the input kept);
- on a CPU in float32 with torch's AVX2 or AVX-512 kernels, ``tanh(h)`` is computed as
  ``2 sigmoid(2h) - 1`` (identical in exact arithmetic, absolute error below 2.5e-7 in float32),
  because the vectorised sigmoid is several times faster than torch's tanh (about 0.2-0.4 against
  1.5-1.9 ns per element on the CPUs measured); float64, GPUs and other CPU kernels use ``torch.tanh``;
- for an *affine family* of points ``origin + c @ directions`` (a line, a plane, a simplex),
  :meth:`LayerStack.affine_logits` computes the first layer once per direction: the first
  layer is linear in its weights and bias, so its output at every point of the family is
  ``z_0 + sum_k c_k z_k``, one small matrix product instead of one layer per point.

Its forward pass is used where nothing is differentiated (``torch.no_grad``): losses of planes,
paths, probes, accuracies. For training, :meth:`LayerStack.loss_and_grad` writes back-propagation
out by hand (first derivatives only; :meth:`lsl.network.NetworkLandscape.first_order_loss` hands it
to the trainers). Curvature keeps the differentiable ``vmap`` path.
Networks that are not layer stacks (convolutions, batch norm, custom modules) use ``vmap``
throughout; :meth:`LayerStack.of` returns ``None`` for them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = ["LayerStack", "StackCurvature"]

# Layers that are the identity in evaluation mode, or only flatten the input (allowed in front).
_PASS = (nn.Identity, nn.Dropout)
_ACTIVATIONS = (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.GELU)


@functools.lru_cache(maxsize=1)
def _vector_sigmoid() -> bool:
    """Whether torch's CPU kernels are the AVX2 or AVX-512 ones, whose sigmoid is several times faster than tanh.

    With ``ATEN_CPU_CAPABILITY=default`` (no SIMD) the sigmoid is as slow as tanh, and
    ``2 sigmoid(2h) - 1`` then costs three passes for nothing; on other CPUs it is unmeasured.
    """
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


@dataclass(frozen=True)
class _Layer:
    weight: slice  # where the weight [out, in] sits in the flat parameter vector
    bias: slice | None
    shape: tuple[int, int]  # (out_features, in_features)
    activation: nn.Module | None  # applied after the layer, or None
    dropout: float = 0.0  # dropout probability after the activation, in training mode


def _leaves(module: nn.Module) -> list[nn.Module] | None:
    """The leaf modules of nested ``nn.Sequential`` containers in call order, or ``None``."""
    if type(module) is nn.Sequential or (isinstance(module, nn.Sequential) and
                                         type(module).forward is nn.Sequential.forward):
        out: list[nn.Module] = []
        for child in module:
            sub = _leaves(child)
            if sub is None:
                return None
            out += sub
        return out
    if any(True for _ in module.children()):
        return None  # a container with its own forward: its call order is unknown
    return [module]


class LayerStack:
    """The forward pass of a layer stack (``Linear`` layers and activations) for a batch of parameter vectors.

    Build it with :meth:`of`, which returns ``None`` for networks that are not layer stacks.
    Its forward pass is for evaluation mode (dropout off), and no gradients flow through it;
    :meth:`loss_and_grad` computes the loss and its gradient for training, dropout included.

    Attributes:
        layers: the linear layers in order, each with the slices of its weight and bias in the
            flat parameter vector and the activation that follows it.
        in_features: the number of input features (inputs are flattened from dimension 1).
    """

    def __init__(self, layers: list[_Layer], in_features: int, *, trains: bool = True):
        self.layers = layers
        self.in_features = in_features
        self._trains = trains

    @classmethod
    def of(cls, model: nn.Module, view) -> "LayerStack | None":
        """The stack of ``model`` with parameter slices from ``view`` (a :class:`lsl.landscape.FlatView`), or ``None``.

        A layer stack is a ``nn.Sequential`` (possibly nested) whose leaves are ``Flatten`` (first
        only), ``Linear``, ``Tanh``, ``ReLU``, ``Sigmoid``, ``GELU``, ``Dropout`` and ``Identity``,
        ending in a ``Linear``, with every parameter trainable and no buffers.
        """
        leaves = _leaves(model)
        if not leaves or any(True for _ in model.buffers()):
            return None
        if any(not p.requires_grad for p in model.parameters()):
            return None
        names = {id(m): n for n, m in model.named_modules()}
        layers: list[_Layer] = []
        in_features = None
        trains = True  # whether the training path (loss_and_grad) can follow the module's dropout
        for i, m in enumerate(leaves):
            if isinstance(m, nn.Flatten):
                if i != 0 or m.start_dim != 1 or m.end_dim != -1:
                    return None
            elif isinstance(m, nn.Dropout):
                if m.p == 0:
                    continue
                if not layers or layers[-1].dropout:
                    trains = False  # on the inputs, or twice after one layer
                else:
                    last = layers[-1]
                    layers[-1] = _Layer(last.weight, last.bias, last.shape, last.activation, float(m.p))
            elif isinstance(m, _PASS):
                continue
            elif isinstance(m, nn.Linear):
                prefix = names[id(m)]
                try:
                    w = view.block(f"{prefix}.weight")
                    b = view.block(f"{prefix}.bias") if m.bias is not None else None
                except KeyError:
                    return None
                if layers and layers[-1].shape[0] != m.in_features:
                    return None
                in_features = m.in_features if in_features is None else in_features
                layers.append(_Layer(w, b, (m.out_features, m.in_features), None))
            elif isinstance(m, _ACTIVATIONS):
                if not layers or layers[-1].activation is not None:
                    return None
                if isinstance(m, nn.GELU) and m.approximate != "none":
                    return None
                last = layers[-1]
                if last.dropout:
                    trains = False  # dropout between a layer and its activation
                layers[-1] = _Layer(last.weight, last.bias, last.shape, m, last.dropout)
            else:
                return None
        if not layers or layers[-1].activation is not None or in_features is None:
            return None
        if layers[-1].dropout:
            trains = False  # dropout on the outputs
        return cls(layers, in_features, trains=trains)

    # -- evaluation ---------------------------------------------------------------
    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.in_features:
            raise ValueError(f"the inputs have {x.shape[1]} features per example; the stack takes {self.in_features}")
        return x

    @staticmethod
    def _activate(h: torch.Tensor, act: nn.Module | None) -> torch.Tensor:
        if act is None:
            return h
        if isinstance(act, nn.Tanh):
            if h.device.type == "cpu" and h.dtype == torch.float32 and _vector_sigmoid():
                return h.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)  # tanh(h) = 2 sigmoid(2h) - 1
            return h.tanh_()
        if isinstance(act, nn.ReLU):
            return h.relu_()
        if isinstance(act, nn.Sigmoid):
            return h.sigmoid_()
        return nn.functional.gelu(h)

    def _layer(self, h: torch.Tensor, theta: torch.Tensor, layer: _Layer) -> torch.Tensor:
        """``h [P, N, in]`` (or ``[1, N, in]``, shared) -> ``[P, N, out]`` for points ``theta [P, D]``."""
        P = theta.shape[0]
        out_f, in_f = layer.shape
        w = theta[:, layer.weight].view(P, out_f, in_f).transpose(1, 2)
        if h.shape[0] != P:
            h = h.expand(P, -1, -1)
        if layer.bias is None:
            return torch.bmm(h, w)
        return torch.baddbmm(theta[:, layer.bias].unsqueeze(1), h, w)

    def _rest(self, h: torch.Tensor, theta: torch.Tensor, start: int) -> torch.Tensor:
        for layer in self.layers[start:]:
            h = self._activate(self._layer(h, theta, layer), layer.activation)
        return h

    def logits(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``[P, N, C]`` of the network at points ``theta [P, D]`` on inputs ``x [N, ...]``."""
        with torch.no_grad():
            return self._rest(self._inputs(x).unsqueeze(0), theta, 0)

    def first_layer(self, theta: torch.Tensor, x: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
        """The first linear layer's output (before its activation) ``[K, N, H]`` for parameter vectors ``theta [K, D]``."""
        layer = self.layers[0]
        with torch.no_grad():
            if not bias or layer.bias is None:
                w = theta[:, layer.weight].view(theta.shape[0], *layer.shape).transpose(1, 2)
                return torch.matmul(self._inputs(x).unsqueeze(0), w)
            return self._layer(self._inputs(x).unsqueeze(0), theta, layer)

    def affine_logits(self, z0: torch.Tensor, zs: torch.Tensor, coeffs: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Outputs ``[P, N, C]`` at the points ``origin + coeffs @ directions`` of an affine family.

        Args:
            z0: the first layer's output at the origin ``[N, H]`` (:meth:`first_layer`).
            zs: the first layer's output for each direction ``[K, N, H]``, bias included (the layer is
                linear in its weight and bias together).
            coeffs: the points' coordinates ``[P, K]``.
            points: the same points in full ``[P, D]`` (the later layers read their parameters there).
        """
        with torch.no_grad():
            P, K = coeffs.shape
            N, H = z0.shape
            h = torch.addmm(z0.reshape(1, -1), coeffs, zs.reshape(K, -1)).view(P, N, H)
            h = self._activate(h, self.layers[0].activation)
            return self._rest(h, points, 1)

    # -- training: the loss and its gradient, by hand -----------------------------------
    def trains(self, loss: str | None) -> bool:
        """Whether :meth:`loss_and_grad` can compute the built-in loss ``loss`` (a name, or ``None``) for this stack.

        It can for the losses ``"cross_entropy"`` and ``"mse"``, the activations ReLU, tanh and
        sigmoid (not GELU), and dropout after a hidden layer's activation (as in :class:`lsl.data.nets.MLP`).
        """
        return (self._trains and loss in _OUTPUT_GRADIENTS
                and all(layer.activation is None or isinstance(layer.activation, _TRAINED) for layer in self.layers))

    def loss_and_grad(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, loss: str, *,
                      train: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss at points ``theta [P, D]`` and its gradient, by back-propagation written out.

        One forward pass keeps each layer's output; the backward pass multiplies the error signal
        through the layers again (``dW = delta^T h``, ``db = sum delta``, ``delta <- delta W * act'``),
        with the derivative of each activation read off its output (ReLU: ``h > 0``, tanh:
        ``1 - h^2``, sigmoid: ``h (1 - h)``). That is the gradient autograd computes, without
        building a graph, so a training step of the book's small networks is cheaper than with autograd
        (``benchmarks/batched_training.py``, the "one model" row). Only first derivatives: for
        curvature use the landscape's ``hvp``.

        In training mode (``train=True``) each hidden layer's dropout draws its mask from torch's
        global generator, as ``nn.Dropout`` does: one mask per point and example.

        Args:
            theta: points ``[P, D]``.
            x: inputs ``[N, ...]`` shared by the points, or ``[P, N, features]``, each point its own.
            y: labels ``[N]`` (integers), or ``[P, N]`` with per-point inputs.
            loss: ``"cross_entropy"`` or ``"mse"`` (the mean over examples, as the landscape's loss).
            train: dropout on.

        Returns:
            the loss ``[P]`` and its gradient ``[P, D]``.

        Raises:
            ValueError: if :meth:`trains` says the stack or the loss is not supported.
        """
        if not self.trains(loss):
            raise ValueError(f"loss_and_grad supports the losses {sorted(_OUTPUT_GRADIENTS)} on stacks of "
                             f"ReLU, tanh and sigmoid layers with dropout after an activation; got loss {loss!r} "
                             f"on this stack: use autograd (the landscape's grad) instead")
        with torch.no_grad():
            P = theta.shape[0]
            if y.dim() == 2:  # per-point examples
                if x.dim() != 3 or x.shape[:2] != y.shape or y.shape[0] != P or x.shape[2] != self.in_features:
                    raise ValueError(f"per-point examples need x [P, N, {self.in_features}] and y [P, N] with P={P}; "
                                     f"got x {tuple(x.shape)} and y {tuple(y.shape)}")
                h = x
            else:
                h = self._inputs(x).unsqueeze(0)
            inputs, outputs, masks = [], [], []
            for layer in self.layers:
                inputs.append(h)
                h = self._activate(self._layer(h, theta, layer), layer.activation)
                outputs.append(h)
                mask = None
                if train and layer.dropout:
                    keep = 1.0 - layer.dropout
                    mask = torch.empty_like(h).bernoulli_(keep).div_(keep)  # what nn.Dropout draws
                    h = h * mask
                masks.append(mask)
            value, delta = _OUTPUT_GRADIENTS[loss](h, y)
            grad = theta.new_empty(P, theta.shape[1])
            for i in range(len(self.layers) - 1, -1, -1):
                layer, h_in = self.layers[i], inputs[i]
                out_f, in_f = layer.shape
                # dW [P, out, in] = delta^T h_in (h_in is shared [1, N, in] for the first layer)
                grad[:, layer.weight].view(P, out_f, in_f).copy_(torch.matmul(delta.transpose(1, 2), h_in))
                if layer.bias is not None:
                    grad[:, layer.bias] = delta.sum(1)
                if i == 0:
                    break
                below = self.layers[i - 1]
                delta = torch.bmm(delta, theta[:, layer.weight].view(P, out_f, in_f))
                if masks[i - 1] is not None:
                    delta.mul_(masks[i - 1])
                _activation_backward(delta, outputs[i - 1], below.activation)
            return value, grad


    # -- curvature: Hessian-vector products, by hand -------------------------------------
    def curves(self, loss: str | None) -> bool:
        """Whether :meth:`curvature` can give Hessian products of the built-in loss ``loss`` for this stack.

        It can for the losses ``"cross_entropy"`` and ``"mse"`` and the activations ReLU, tanh and
        sigmoid (not GELU); dropout is off (the curvature is that of evaluation mode).
        """
        return (loss in _OUTPUT_GRADIENTS
                and all(layer.activation is None or isinstance(layer.activation, _TRAINED) for layer in self.layers))

    def curvature(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, loss: str) -> "StackCurvature":
        """The curvature of the (evaluation-mode) loss at one point ``theta [D]``, for products with blocks of vectors.

        See :class:`StackCurvature`; the forward and backward pass at ``theta`` are computed here, once.

        Raises:
            ValueError: if :meth:`curves` says the stack or the loss is not supported.
        """
        if not self.curves(loss):
            raise ValueError(f"curvature supports the losses {sorted(_OUTPUT_GRADIENTS)} on stacks of ReLU, tanh and "
                             f"sigmoid layers; got loss {loss!r} on this stack: use the landscape's hvp instead")
        return StackCurvature(self, theta, x, y, loss)

_TRAINED = (nn.ReLU, nn.Tanh, nn.Sigmoid)


def _activation_backward(delta: torch.Tensor, out: torch.Tensor, act: nn.Module | None) -> None:
    """Multiply ``delta`` in place by the activation's derivative, read off its output ``out``."""
    if act is None:
        return
    if isinstance(act, nn.ReLU):
        delta.mul_(out > 0)
    elif isinstance(act, nn.Tanh):
        delta.mul_(1.0 - out * out)
    else:  # sigmoid
        delta.mul_(out * (1.0 - out))


def _cross_entropy_output(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of each row of logits ``[P, N, C]`` and its gradient with respect to the logits."""
    logp = torch.log_softmax(logits, -1)
    index = y.view(-1, logits.shape[1], 1).expand(logits.shape[0], -1, 1)  # y [N] or [P, N]
    value = -logp.gather(-1, index).squeeze(-1).mean(-1)
    delta = logp.exp_()
    delta.scatter_add_(-1, index, torch.full(index.shape, -1.0, dtype=delta.dtype, device=delta.device))
    return value, delta.div_(logits.shape[1])


def _mse_output(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared error of each row of logits ``[P, N, C]`` against one-hot labels, and its gradient."""
    diff = logits - nn.functional.one_hot(y, logits.shape[-1]).to(logits.dtype)
    value = (diff * diff).mean((-2, -1))
    return value, diff.mul_(2.0 / (logits.shape[1] * logits.shape[2]))


#: The loss of each row of logits and its gradient with respect to them, per built-in loss name.
_OUTPUT_GRADIENTS = {"cross_entropy": _cross_entropy_output, "mse": _mse_output}


def cross_entropy_rows(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy of each row of logits ``[P, N, C]`` against labels ``y [N]`` -> ``[P]``."""
    picked = logits.gather(-1, y.view(1, -1, 1).expand(logits.shape[0], -1, 1)).squeeze(-1)
    return (torch.logsumexp(logits, -1) - picked).mean(-1)


def mse_rows(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean squared error of each row of logits ``[P, N, C]`` against one-hot labels ``y [N]`` -> ``[P]``."""
    target = nn.functional.one_hot(y, logits.shape[-1]).to(logits.dtype)
    return ((logits - target) ** 2).mean((-2, -1))


#: Losses over rows of logits for the built-in loss names of :class:`lsl.network.NetworkLandscape`.
ROW_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "cross_entropy": cross_entropy_rows,
    "mse": mse_rows,
}


class StackCurvature:
    """Products of the Hessian of a layer stack's loss (or of its Gauss-Newton term) with a block of vectors.

    Forward-over-reverse differentiation written out, as :meth:`LayerStack.loss_and_grad` writes out
    back-propagation. The forward pass at ``theta`` (each layer's input ``a``, the activation's first
    and second derivatives) and the backward pass (each layer's error signal ``delta`` and the signal
    ``g`` reaching each hidden layer's output) are computed once, when the object is built. A product
    with ``V [b, D]`` (rows ``v``, each a change ``dW, db`` of every layer) then propagates only the
    tangents, for all ``b`` rows at once:

    - forward: ``dz_l = da_{l-1} W_l^T + a_{l-1} dW_l^T + db_l`` and ``da_l = s'(z_l) dz_l`` (``da_0 = 0``);
    - at the output: ``ddelta_L = H_out dz_L``, the loss's Hessian in the logits (cross-entropy:
      ``(diag p - p p^T) / N`` per example; mean squared error: ``2 / (N C)``);
    - backward: ``dgW_l = ddelta_l^T a_{l-1} + delta_l^T da_{l-1}``, ``dgb_l = sum ddelta_l`` and
      ``ddelta_{l-1} = (ddelta_l W_l + delta_l dW_l) s'(z_{l-1}) + g_{l-1} s''(z_{l-1}) dz_{l-1}``.

    ``(dgW, dgb)`` is ``H v``. The terms that carry ``H_out`` make the Gauss-Newton term
    ``G v = J^T H_out J v``; the others (``delta_l dW_l``, ``delta_l^T da_{l-1}`` and the ``s''`` term)
    make the rest, ``H v - G v`` (:mod:`lsl.curvature.hessian` explains the split). Every matrix
    product has the ``b`` rows side by side (one product with the shared ``a_{l-1}`` or ``W_l`` for the
    whole block), and no autograd graph is built, so a block of products costs a few batched matrix
    products per layer.

    Attributes:
        D: the number of parameters.
    """

    def __init__(self, stack: LayerStack, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, loss: str):
        self.stack, self.loss = stack, loss
        with torch.no_grad():
            theta = theta.detach().reshape(-1)
            self.D = theta.shape[0]
            self.dtype, self.device = theta.dtype, theta.device
            h = stack._inputs(x)
            self.n = h.shape[0]
            # feature-major ([width, N]) copies, the orientation of the products (see _product)
            self.inputs: list[torch.Tensor] = []  # a_{l-1} [N, in]
            self.inputs_t: list[torch.Tensor] = []  # a_{l-1}^T [in, N]
            self.weights: list[torch.Tensor] = []  # W_l [out, in]
            self.slopes: list[torch.Tensor | None] = []  # s'(z_l)^T [out, N] (None: identity)
            seconds = []
            for layer in stack.layers:
                self.inputs.append(h.contiguous())
                self.inputs_t.append(h.T.contiguous())
                w = theta[layer.weight].view(layer.shape)
                self.weights.append(w)
                z = h @ w.T
                if layer.bias is not None:
                    z += theta[layer.bias]
                a, d1, d2 = _activation_derivatives(z, layer.activation)
                self.slopes.append(None if d1 is None else d1.T.contiguous())
                seconds.append(d2)
                h = a
            logits = h
            _, delta = _OUTPUT_GRADIENTS[loss](logits.unsqueeze(0), y)
            delta = delta[0]  # [N, C]
            self.p = torch.softmax(logits, -1).T.contiguous() if loss == "cross_entropy" else None  # [C, N]
            self.n_out = logits.shape[1]
            # delta_l^T [out, N], and g_l s''(z_l) [out, N] for the hidden layers (None: zero)
            self.deltas: list[torch.Tensor] = [delta.T.contiguous()] * len(stack.layers)
            self.curls: list[torch.Tensor | None] = [None] * len(stack.layers)
            for i in range(len(stack.layers) - 1, 0, -1):
                g = delta @ self.weights[i]  # the signal reaching layer i-1's output, [N, in]
                if seconds[i - 1] is not None:
                    self.curls[i - 1] = (g * seconds[i - 1]).T.contiguous()
                delta = g if self.slopes[i - 1] is None else g * self.slopes[i - 1].T
                self.deltas[i - 1] = delta.T.contiguous()

    def _output_hessian(self, dz: torch.Tensor) -> torch.Tensor:
        """``H_out dz`` for tangents of the logits ``dz [b, C, N]``."""
        if self.p is None:
            return dz * (2.0 / (self.n * self.n_out))
        pd = self.p * dz
        return (pd - self.p * pd.sum(-2, keepdim=True)) / self.n

    def __call__(self, V: torch.Tensor, *, term: str = "hessian") -> torch.Tensor:
        """``A V`` for rows ``V [b, D]`` (or one vector ``[D]``), ``A`` the Hessian or one of its terms.

        Args:
            V: the vectors, in this object's dtype.
            term: ``"hessian"`` (``H``), ``"gauss_newton"`` (``G``) or ``"rest"`` (``H - G``).

        Returns:
            ``A V`` with the shape of ``V``.
        """
        if term not in ("hessian", "gauss_newton", "rest"):
            raise ValueError(f"unknown term {term!r}")
        one = V.dim() == 1
        V = V.reshape(-1, self.D)
        out = torch.empty_like(V)
        with torch.no_grad():
            self._product(V, out, output=term != "rest", second=term != "gauss_newton")
        return out[0] if one else out

    def _product(self, V: torch.Tensor, out: torch.Tensor, *, output: bool, second: bool) -> None:
        # Tangents are kept feature-major, [b, width, N] (examples last), the orientation in which the
        # CPU's matrix products with the shared a_{l-1}, W_l and delta_l run fastest.
        b, layers = V.shape[0], self.stack.layers
        # forward: the tangents of every layer's output
        da, dzs, das = None, [], []
        for i, layer in enumerate(layers):
            out_f, in_f = layer.shape
            dW = V[:, layer.weight].reshape(b * out_f, in_f)
            dz = (dW @ self.inputs_t[i]).view(b, out_f, -1)  # dW a^T
            if da is not None:
                dz.baddbmm_(self.weights[i].expand(b, -1, -1), da)  # + W da^T
            if layer.bias is not None:
                dz += V[:, layer.bias].unsqueeze(-1)
            das.append(da)
            dzs.append(dz)
            da = dz if self.slopes[i] is None else dz * self.slopes[i]
        # backward: the tangents of the error signals, and the product
        dd = self._output_hessian(dzs[-1]) if output else None
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            out_f, in_f = layer.shape
            delta = self.deltas[i]  # [out, N]
            gW = None
            if dd is not None:
                gW = (dd.reshape(b * out_f, -1) @ self.inputs[i]).view(b, out_f, in_f)  # ddelta^T a
            if second and das[i] is not None:  # delta^T da
                extra = torch.matmul(delta.expand(b, -1, -1), das[i].transpose(1, 2))
                gW = extra if gW is None else gW.add_(extra)
            out[:, layer.weight] = 0.0 if gW is None else gW.reshape(b, out_f * in_f)
            if layer.bias is not None:
                out[:, layer.bias] = dd.sum(-1) if dd is not None else 0.0
            if i == 0:
                break
            new = None
            w_t = self.weights[i].T.expand(b, -1, -1)
            if dd is not None:
                new = torch.bmm(w_t, dd)  # W^T ddelta, [b, in, N]
            if second:  # dW^T delta
                dW_t = V[:, layer.weight].view(b, out_f, in_f).transpose(1, 2)
                new = torch.matmul(dW_t, delta) if new is None else new.baddbmm_(dW_t, delta.expand(b, -1, -1))
            if self.slopes[i - 1] is not None:
                new.mul_(self.slopes[i - 1])
            if second and self.curls[i - 1] is not None:
                new.addcmul_(self.curls[i - 1], dzs[i - 1])
            dd = new


def _activation_derivatives(z: torch.Tensor, act: nn.Module | None):
    """``(s(z), s'(z), s''(z))`` of an activation (``None`` entries: the identity's ``1`` and ``0``); ``z`` is consumed."""
    if act is None:
        return z, None, None
    if isinstance(act, nn.ReLU):
        a = z.relu_()
        return a, (a > 0).to(a.dtype), None
    if isinstance(act, nn.Tanh):
        a = z.tanh_()
        d1 = 1.0 - a * a
        return a, d1, -2.0 * a * d1
    a = z.sigmoid_()  # sigmoid
    d1 = a * (1.0 - a)
    return a, d1, d1 * (1.0 - 2.0 * a)
