# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (chapter-dynamics)=
# # After the papers: sharpness at the edge of stability, and the subspace SGD does not need
#
# ```{admonition} What you will learn
# :class: tip
# - why gradient descent with learning rate $\eta$ cannot stay where the curvature exceeds $2/\eta$, and
#   what Cohen et al. {cite}`cohen2021gradient` found networks do about it: the top Hessian eigenvalue (the
#   *sharpness*) rises until it reaches $2/\eta$ and then hovers there, the
#   *edge of stability*, while the loss keeps falling, not monotonically;
# - how to follow the sharpness along a full-batch run (`lsl.probes.sharpness`);
# - how to train with every step projected onto a subspace, or with it projected out, as an option of
#   the ordinary trainer (`lsl.training.trainer.StepProjection`);
# - what Song, Ahn & Yun {cite}`song2025does` found about {term}`gradient confinement`: the gradient lies
#   largely in the top Hessian eigenspace, yet training confined to that subspace barely moves the loss,
#   while training with it removed works about as well as plain SGD.
# ```
#
# **Prerequisites:** {ref}`chapter-local-geometry` (outliers, confinement and the curvature transient);
# gradient descent on a quadratic.
#
# This chapter goes beyond the two 2019 papers this book follows. Fort & Ganguli {cite}`fort2019emergent`
# described the local geometry along training: a few outlier eigenvalues, a gradient confined to their
# span, and a top eigenvalue that rises early and then falls, by an amount that depends on the learning
# rate. Two later works speak directly to that picture. Cohen et al. give the rise of the top eigenvalue a
# threshold, $2/\eta$, fixed by the learning rate. Song, Ahn & Yun ask whether the gradient's
# confinement to the top eigenspace means that learning happens there, and answer no.
#
# The first cell prepares the chapter. On Google Colab it installs `lsl` at the version this book
# was built from; everywhere it picks the device (the GPU if there is one) and the {term}`profile`
# (`quick`, minutes on any machine, GPU or not, unless you set `LSL_PROFILE`) and prints its choice.
# To switch to the papers' datasets and sizes (hours, best on a GPU), run
# `import os; os.environ["LSL_PROFILE"] = "paper"` before it.

# %%
# Set-up. On a fresh Google Colab runtime: install lsl (the package lsl-book) at v0.1.0, the version
# this book was built from. Everywhere: choose the device and the profile, and print the choice.
import sys, subprocess
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "lsl-book @ git+https://github.com/lsl-book/lsl@v0.1.0"], check=True)
import lsl.book
P, cfg, device = lsl.book.setup("dynamics")

# %%
import numpy as np
import torch

from lsl.data import datasets, nets
from lsl.probes.hessian_subspace import projected_runs
from lsl.probes.sharpness import quadratic_gd_factor, sharpness_along_run
from lsl.settings import TrainSettings
from lsl.training.trainer import minimize
from lsl.book import glue, plots, report

# %% [markdown]
# (dynamics-eos)=
# ## The edge of stability
#
# ### On a quadratic: the exact threshold
#
# On $f(x) = \frac{\lambda}{2} x^2$ a step of gradient descent is $x \mapsto x - \eta\lambda x = (1 - \eta\lambda)\,x$,
# so after $t$ steps $|x_t| = |1 - \eta\lambda|^t\,|x_0|$: the iteration converges if $\lambda < 2/\eta$ and
# diverges, oscillating with a growing amplitude, if $\lambda > 2/\eta$. On a quadratic in many dimensions
# the same holds along each eigenvector of the Hessian, with its eigenvalue. So gradient descent cannot
# settle anywhere the sharpness exceeds $2/\eta$. We run the package's trainer (plain gradient descent)
# on quadratics of curvature {glue:text}`dyn_toy_curvatures` with $\eta$ = {glue:text}`dyn_toy_lr` and
# check the closed form.

# %%
toy = {}
for lam in cfg.toy_curvatures:
    run = minimize(lambda x, step, lam=lam: 0.5 * lam * (x * x).sum(), torch.ones(1, dtype=torch.float64),
                   settings=TrainSettings(steps=cfg.toy_steps, lr=cfg.toy_lr, optimizer="sgd"), nonfinite="record")
    toy[lam] = abs(run.theta.item())
    factor = quadratic_gd_factor(lam, cfg.toy_lr)
    print(f"curvature {lam:g}: |x| after {cfg.toy_steps} steps {toy[lam]:.3g}, closed form {factor ** cfg.toy_steps:.3g}")
    assert abs(toy[lam] - factor ** cfg.toy_steps) <= 1e-9 * factor ** cfg.toy_steps, "gradient descent on a quadratic is (1 - lr lam)^t"
    assert (toy[lam] < 1) == (lam < 2 / cfg.toy_lr), "gradient descent on a quadratic is stable exactly when lam < 2 / lr"
glue("dyn_toy_curvatures", report.listing(cfg.toy_curvatures))
glue("dyn_toy_lr", cfg.toy_lr)
glue("dyn_toy_edge", 2 / cfg.toy_lr)
glue("dyn_toy_steps", cfg.toy_steps)
glue("dyn_toy_stable", report.listing([lam for lam in cfg.toy_curvatures if lam < 2 / cfg.toy_lr]))
glue("dyn_toy_unstable", report.listing([lam for lam in cfg.toy_curvatures if lam > 2 / cfg.toy_lr]))

# %% [markdown]
# With $2/\eta$ = {glue:text}`dyn_toy_edge`, the curvatures {glue:text}`dyn_toy_stable` shrink $|x|$ and
# {glue:text}`dyn_toy_unstable` blow it up, exactly as $(1-\eta\lambda)^t$ says after
# {glue:text}`dyn_toy_steps` steps (the cell asserts it).
#
# ### On a network: progressive sharpening, then the edge
#
# A network's loss is not a quadratic, and its sharpness changes as it trains. Cohen et al. found that under
# full-batch gradient descent the sharpness typically *rises* ("progressive sharpening") until it reaches
# $2/\eta$, and then, instead of the run diverging, stays there while the loss keeps falling over long
# times, though not monotonically: the run is unstable along the top eigenvector on short times, and that
# instability itself keeps the sharpness at the edge. We train an MLP on {glue:text}`dyn_eos_n`
# {glue:text}`dyn_dataset` examples by full-batch gradient descent with the squared loss on one-hot targets
# (Cohen et al.'s main setting) at the learning rates {glue:text}`dyn_eos_lrs`, and measure the sharpness
# every {glue:text}`dyn_eos_every` steps by Lanczos (`lsl.probes.sharpness.sharpness_along_run`).

# %%
eos_data = datasets.load(cfg.dataset, n_train=cfg.eos_n_train, n_test=cfg.n_test, device=device)
eos = {}
for lr in cfg.eos_lrs:
    eos_net = nets.network(eos_data, "mlp", seed=0, device=device, loss=cfg.eos_loss, **cfg.eos_net)()
    eos[lr] = sharpness_along_run(eos_net, settings=TrainSettings(steps=cfg.eos_steps, lr=lr, optimizer="sgd"),
                                  every=cfg.eos_every, tol=cfg.eos_tol)
    r = eos[lr]
    print(f"lr={lr:g} (2/lr = {2 / lr:.2f}), D = {eos_net.D}: sharpness over 2/lr at the checkpoints "
          f"{report.numbers(r.ratio, 2)}; loss {r.losses[0]:.4f} -> {r.losses[-1]:.4f}")
    assert torch.isfinite(r.sharpness).all() and torch.isfinite(r.losses).all(), "the run and its sharpness are finite"
glue("dyn_eos_n", cfg.eos_n_train)
glue("dyn_dataset", cfg.dataset)
glue("dyn_eos_lrs", report.listing(cfg.eos_lrs))
glue("dyn_eos_every", cfg.eos_every)
glue("dyn_eos_D", eos_net.D)

# %% tags=["remove-output", "hide-input"]
fig, axes = plots.figure(ncols=2, width=4.4)
for k, (lr, r) in enumerate(eos.items()):
    axes[0].plot(r.steps, r.sharpness.numpy(), "o-", ms=3, color=f"C{k}", label=f"$\\eta$ = {lr:g}")
    axes[0].axhline(2 / lr, color=f"C{k}", ls="--", lw=0.8)
    axes[1].plot(np.arange(len(r.losses)), r.losses.numpy(), color=f"C{k}", lw=0.8, label=f"$\\eta$ = {lr:g}")
axes[0].set(xlabel="step", ylabel="sharpness (top Hessian eigenvalue)", title="dashed: $2/\\eta$")
axes[1].set(xlabel="step", ylabel="full-batch training loss", yscale="log")
axes[0].legend()
report.figure("fig-dynamics-eos", fig)

# %% [markdown]
# ```{glue:figure} fig-dynamics-eos
# :name: fig-dynamics-eos
#
# Full-batch gradient descent on an MLP at three learning rates. Left: the sharpness at the checkpoints,
# with $2/\eta$ dashed in the same colour. Right: the training loss at every step.
# ```
#
# The criteria, declared before measuring (`lsl/book/claims.yml`): progressive sharpening is reproduced if at
# every learning rate the largest sharpness reaches $0.9 \cdot 2/\eta$ and at least $1.5$ times its value at
# initialisation; the edge of stability if, over the checkpoints of the second half of each run, the
# sharpness averages between $0.9$ and $1.2$ times $2/\eta$ while the loss is lower at the end than at the
# middle and rises at some steps of the second half.

# %%
half = cfg.eos_steps // 2
reach, rise, hover, loss_fall, loss_up = [], [], [], [], []
for lr, r in eos.items():
    late = r.after(half)
    reach.append(float(r.ratio.max()))
    rise.append(float(r.sharpness.max() / r.sharpness[0]))
    hover.append(float(late.ratio.mean()))
    loss_fall.append(float(r.losses[-1] / r.losses[half]))
    loss_up.append(float((late.losses[1:] > late.losses[:-1]).double().mean()))
    print(f"lr={lr:g}: largest sharpness {reach[-1]:.2f} x 2/lr, {rise[-1]:.2f} x its start; second half: "
          f"mean {hover[-1]:.2f} x 2/lr, loss end / middle {loss_fall[-1]:.3f}, rising at {loss_up[-1]:.0%} of the steps")
glue("dyn_reach", report.listing([report.fmt(v, 3) for v in reach]))
glue("dyn_rise", report.listing([report.fmt(v, 2) for v in rise]))
glue("dyn_hover", report.listing([report.fmt(v, 3) for v in hover]))
glue("dyn_loss_fall", report.listing([report.fmt(v, 2) for v in loss_fall]))
glue("dyn_loss_up", report.listing([report.fmt(100 * v, 2) + "%" for v in loss_up]))

# %% tags=["hide-input"]
report.verdict("coh-sharpening",
               shown=f"largest sharpness over 2/η {report.listing([report.fmt(v, 3) for v in reach])} and over its start "
                     f"{report.listing([report.fmt(v, 2) for v in rise])} at η = {report.listing(cfg.eos_lrs)}",
               reach=reach, rise=rise)
report.verdict("coh-edge",
               shown=f"sharpness over 2/η in the second half {report.listing([report.fmt(v, 3) for v in hover])}; loss "
                     f"end / middle {report.listing([report.fmt(v, 2) for v in loss_fall])}, rising at "
                     f"{report.listing([report.fmt(100 * v, 2) + '%' for v in loss_up])} of the steps",
               hover=hover, loss_fall=loss_fall, loss_up=loss_up)

# %% [markdown]
# At the learning rates {glue:text}`dyn_eos_lrs` the largest sharpness reached {glue:text}`dyn_reach` times
# $2/\eta$, after rising {glue:text}`dyn_rise`-fold from initialisation: progressive sharpening is
# {glue:text}`verdict-coh-sharpening-lower`. Over the second half of each run the sharpness averaged
# {glue:text}`dyn_hover` times $2/\eta$, while the loss went on falling (end over middle:
# {glue:text}`dyn_loss_fall`) and rose at {glue:text}`dyn_loss_up` of those steps: the edge of stability is
# {glue:text}`verdict-coh-edge-lower`.
#
# What this says about Fort & Ganguli's curvature transient: in Cohen et al.'s picture the top eigenvalue's
# rise under full-batch gradient descent is not free, it stops at a threshold the learning rate sets, which
# is why a larger learning rate ends at a lower sharpness. Their networks were trained with minibatches and Adam, whose
# thresholds differ (minibatch noise keeps SGD below $2/\eta$; Adam's threshold is one of its preconditioned
# Hessian), so the transient of {ref}`chapter-local-geometry` is a relative of this effect, not the same
# measurement. With the cross-entropy loss the sharpness also leaves the edge late in training, as the
# outputs grow confident (the "freezing" of {ref}`chapter-local-geometry`); see the exercises.
#
# (dynamics-subspace)=
# ## Does SGD happen in the top subspace?
#
# Gur-Ari et al. {cite}`gurari2018gradient` and Fort & Ganguli found the gradient mostly in the span of the
# top few Hessian eigenvectors, and read it as "gradient descent happens in a tiny subspace". Song, Ahn &
# Yun tested the reading directly. *Dom-SGD* projects every step onto the top eigenspace (recomputed as
# training goes), *Bulk-SGD* projects it out. If learning happened in the tiny subspace, Dom-SGD would
# train and Bulk-SGD would not; they found the opposite, and explained it by the edge-of-stability
# dynamics above: the component along the sharp directions mostly bounces across a valley whose floor
# it does not descend.
#
# In `lsl` the projection is an option of the ordinary trainer: `train(..., project=StepProjection(basis,
# every, keep))` calls `basis(theta, step)` every `every` steps and keeps only the part of each step inside
# its span (`keep="onto"`) or outside it (`keep="out"`); its tests check that projecting onto the whole
# space changes nothing, onto nothing freezes the parameters, and onto a fixed subspace keeps the
# displacement in it. `lsl.probes.hessian_subspace.top_subspace` makes the basis the top $k$ Hessian
# eigenvectors (by Lanczos), and `projected_runs` trains plain SGD, Dom-SGD and Bulk-SGD from the same
# start with the same minibatches. We take $k = C$ = {glue:text}`dyn_sub_C` as Song et al. do, recompute every
# {glue:text}`dyn_sub_every` steps on the Hessian of the first {glue:text}`dyn_sub_hessian` training
# examples, and train an MLP with minibatch SGD for {glue:text}`dyn_sub_steps` steps.

# %%
sub_data = datasets.load(cfg.dataset, n_train=cfg.sub_n_train, n_test=cfg.n_test, device=device)
C = sub_data.n_classes
sub_net = nets.network(sub_data, "mlp", seed=0, device=device, **cfg.sub_net)()
sub = projected_runs(sub_net, C, settings=TrainSettings(steps=cfg.sub_steps, lr=cfg.sub_lr, optimizer="sgd",
                                                        batch_size=cfg.sub_batch),
                     every=cfg.sub_every, curvature=sub_net.subset(cfg.hessian_examples))
for name, (start, end) in sub.losses.items():
    print(f"{name:5s}: training loss {start:.3f} -> {end:.3f}, test accuracy {sub_net.accuracy(sub.runs[name].theta, 'test'):.3f}")
print("share of |g|^2 in the top C at the recomputation points:", report.numbers(sub.fractions, 2),
      f"(a random C-dimensional subspace: {C / sub_net.D:.1e})")
assert sub.losses["plain"][1] < sub.losses["plain"][0], "plain SGD lowered the training loss (the measure's yardstick)"
assert all(0 <= f <= 1 + 1e-6 for f in sub.fractions), "a share of |g|^2 lies in [0, 1]"
glue("dyn_sub_C", C)
glue("dyn_sub_every", cfg.sub_every)
glue("dyn_sub_hessian", cfg.hessian_examples)
glue("dyn_sub_steps", cfg.sub_steps)
glue("dyn_sub_D", sub_net.D)

# %% tags=["remove-output", "hide-input"]
fig, axes = plots.figure(ncols=2, width=4.4)
window = max(1, cfg.sub_steps // 25)
for k, (name, label) in enumerate([("plain", "SGD"), ("dom", "Dom-SGD (onto the top $C$)"), ("bulk", "Bulk-SGD (top $C$ out)")]):
    losses = sub.runs[name].losses.cpu().numpy()
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    axes[0].plot(np.arange(len(smooth)) + window - 1, smooth, color=f"C{k}", label=label)
axes[0].set(xlabel="step", ylabel=f"minibatch loss (mean of {window} steps)")
axes[0].legend()
axes[1].plot(sub.steps, sub.fractions, "o-", ms=3)
axes[1].axhline(C / sub_net.D, color="grey", ls="--", label="random subspace, $C/D$")
axes[1].set(xlabel="step (plain SGD)", ylabel="share of $\\|g\\|^2$ in the top $C$", yscale="log")
axes[1].legend()
report.figure("fig-dynamics-subspace", fig)

# %% [markdown]
# ```{glue:figure} fig-dynamics-subspace
# :name: fig-dynamics-subspace
#
# Left: the training loss of plain SGD, of SGD with every step projected onto the top $C$ Hessian
# eigenspace (Dom-SGD) and with that eigenspace projected out (Bulk-SGD), from the same start with the
# same minibatches. Right: the share of the full-batch gradient's squared norm in the top $C$ eigenspace
# along the plain run, against a random subspace's.
# ```
#
# The criterion, declared before measuring: reproduced if more than half of $\lVert g\rVert^2$ lies in the
# top $C$ eigenspace (on average over the recomputation points after initialisation), Dom-SGD lowers the
# loss by at most a quarter of what plain SGD does, and Bulk-SGD by at least $0.8$ of it; partly if
# Dom-SGD's progress is at most half of Bulk-SGD's.

# %%
fraction = float(np.mean(sub.fractions[1:]))
dom_progress, bulk_progress = sub.progress("dom"), sub.progress("bulk")
print(f"mean share of |g|^2 in the top C {fraction:.3f}; progress (loss drop over plain SGD's): "
      f"Dom-SGD {dom_progress:.3f}, Bulk-SGD {bulk_progress:.3f}")
glue("dyn_fraction", fraction, 2)
glue("dyn_fraction_max", max(sub.fractions[1:]), 2)
glue("dyn_over_random", fraction / (C / sub_net.D), 2)
glue("dyn_dom_progress", dom_progress, 2)
glue("dyn_bulk_progress", bulk_progress, 3)
glue("dyn_loss_plain", sub.losses["plain"][1], 3)
glue("dyn_loss_dom", sub.losses["dom"][1], 3)
glue("dyn_loss_bulk", sub.losses["bulk"][1], 3)
glue("dyn_loss_start", sub.losses["plain"][0], 3)

# %% tags=["hide-input"]
report.verdict("song-spurious",
               shown=f"{report.fmt(fraction, 2)} of |g|² in the top C on average; loss drop over plain SGD's: "
                     f"Dom-SGD {report.fmt(dom_progress, 2)}, Bulk-SGD {report.fmt(bulk_progress, 3)}",
               fraction=fraction, dom_progress=dom_progress, bulk_progress=bulk_progress)

# %% [markdown]
# From a training loss of {glue:text}`dyn_loss_start`, plain SGD reached {glue:text}`dyn_loss_plain`,
# Bulk-SGD {glue:text}`dyn_loss_bulk` ({glue:text}`dyn_bulk_progress` of plain SGD's drop) and Dom-SGD
# {glue:text}`dyn_loss_dom` ({glue:text}`dyn_dom_progress` of it). Along the plain run the top
# {glue:text}`dyn_sub_C` eigenvectors of a $D$ = {glue:text}`dyn_sub_D` dimensional space held on average
# {glue:text}`dyn_fraction` of $\lVert g\rVert^2$ (at most {glue:text}`dyn_fraction_max`),
# {glue:text}`dyn_over_random` times a random subspace's share: the claim is {glue:text}`verdict-song-spurious-lower`.
# Song et al.'s explanation: the component of each step along the sharp directions oscillates across
# the valley (at the edge of stability, as in the first half of this chapter) and lowers the loss little,
# while the descent along the valley floor happens in the bulk, which Bulk-SGD keeps.
#
# What this says about Fort & Ganguli's confinement: the two measurements are separate. How much of
# $\lVert g\rVert^2$ the top eigenspace holds (here against a random subspace's share, and against the
# "more than half" of the criterion) is the confinement; what training inside and outside that
# eigenspace achieves is what decides whether "training happens in a tiny subspace". Both go into the
# verdict above. Note that our runs are short, minibatch SGD early in training; Fort & Ganguli's
# confinement in {ref}`chapter-local-geometry` was measured along Adam's runs.
#
# ## What we found
#
# - **The threshold.** On a quadratic, gradient descent is stable exactly when the curvature is below
#   $2/\eta$ (asserted for the curvatures {glue:text}`dyn_toy_curvatures` at $\eta$ = {glue:text}`dyn_toy_lr`).
# - **Progressive sharpening ({glue:text}`verdict-coh-sharpening-lower`).** Under full-batch gradient descent
#   ($D$ = {glue:text}`dyn_eos_D`, learning rates {glue:text}`dyn_eos_lrs`) the sharpness rose
#   {glue:text}`dyn_rise`-fold and reached {glue:text}`dyn_reach` times $2/\eta$.
# - **The edge of stability ({glue:text}`verdict-coh-edge-lower`).** Over the second half of the runs it
#   averaged {glue:text}`dyn_hover` times $2/\eta$ while the loss kept falling (end over middle
#   {glue:text}`dyn_loss_fall`), rising at {glue:text}`dyn_loss_up` of the steps.
# - **The tiny subspace ({glue:text}`verdict-song-spurious-lower`).** The top $C$ eigenspace held
#   {glue:text}`dyn_fraction` of the gradient's squared norm on average; training inside it made
#   {glue:text}`dyn_dom_progress` of plain SGD's progress, training without it {glue:text}`dyn_bulk_progress`.
#
# ## Exercises
#
# 1. *Predict, then run.* Repeat the edge-of-stability runs with the cross-entropy loss (`loss="cross_entropy"`
#    in `nets.network`) and twice as many steps. What happens to the sharpness late in training?
#
#    ```{admonition} Solution
#    :class: dropdown
#    It reaches $2/\eta$ as before, but once the network fits most examples the softmax outputs saturate,
#    the Gauss-Newton term shrinks with $p(1-p)$, and the sharpness drops below the edge while the loss goes
#    to zero: Cohen et al. report the same for cross-entropy. This is the "freezing" that Fort & Ganguli use
#    to explain the fall of their curvature transient.
#    ```
#
# 2. *Conceptual.* Along the top eigenvector $u$ of the Hessian, with eigenvalue $\lambda$ slightly above
#    $2/\eta$, what does one step of gradient descent do to the component $\langle \theta - \theta^*, u\rangle$
#    on the quadratic model, and why does the loss then not blow up on a network?
#
#    ```{admonition} Solution
#    :class: dropdown
#    It multiplies it by $1 - \eta\lambda$, slightly below $-1$: the iterate flips sides and moves away a
#    little further each step. On a quadratic that diverges; on a network the growing oscillation reaches
#    regions of lower curvature (the third-order terms of the loss), which lowers the sharpness back below
#    $2/\eta$; the two effects balance at the edge ("self-stabilisation").
#    ```
#
# 3. *Change this.* Run Dom-SGD with $k = 1$ and with $k = 3C$ (`projected_runs(sub_net, k, ...)`). Does
#    enlarging the dominant subspace help it train?
#
#    ```{admonition} Solution
#    :class: dropdown
#    Hardly: the extra directions are still sharp ones, along which the steps oscillate; Bulk-SGD with those
#    directions removed keeps training. The descent happens in the bulk of small eigenvalues.
#    ```
#
# 4. *Going further.* Build a `StepProjection` whose basis is $k = C$ *random* orthonormal directions
#    (`torch.linalg.qr(torch.randn(D, C)).Q.T`) and train with `keep="onto"`. Compare with Dom-SGD.
#
#    ```{admonition} Solution
#    :class: dropdown
#    A random $C$-dimensional subspace holds only about $C/D$ of the gradient, so each step is tiny and the
#    loss barely moves, like Dom-SGD, for the opposite reason: Dom-SGD takes large steps that oscillate,
#    the random subspace takes small ones. Both stall; only the bulk carries the descent.
#    ```
