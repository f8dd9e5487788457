"""The sizes of every chapter, in the ``quick`` and ``paper`` profiles, and how each shrinks at ``smoke``.

Per chapter (keyed by the chapter's file name) three tables, side by side:

- ``_<CHAPTER>_QUICK``: the data set, the architecture, training settings and every count the chapter
  uses in the ``quick`` profile; comments say what a setting is where its name does not;
- ``_<CHAPTER>_SMOKE``: beside it, the smoke rule of every setting (:mod:`lsl.book.smoke`: ``"steps"``,
  ``"interval"``, ``"examples"``, ``"subset"``, ``"width"``, ``"count"``, ``"names"``, ``"seeds"``, ``"cases"`` or ``"value"``;
  a mapping from inner key to rule for a setting that holds a network's options);
- ``_<CHAPTER>_PAPER``: the ``paper`` profile, written as the changes to ``quick``;
- ``_<CHAPTER>_MEDIUM`` and ``_<CHAPTER>_LARGE``, for the chapters whose claims move with scale: the rungs of
  the scale ladder (:mod:`lsl.book.ladder`) between ``quick`` and ``paper``, on 2 CPU cores with offline data,
  written as the changes to ``quick`` too.

A chapter reads them through :func:`lsl.book.setup` (``cfg.n_optima``); the ``smoke`` scale is derived
from ``paper`` by the declared rules. A new setting goes into the quick table with its rule beside it
(``tests/test_profiles.py`` fails on a setting without one, and on a rule for a setting that does not
exist), and into the paper table when the paper's value differs.
"""

from __future__ import annotations

__all__ = ["QUICK", "PAPER", "SMOKE", "MEDIUM", "LARGE"]

_TOY_QUICK = dict(
    # random hyperplanes: two (D, n) pairs, d swept around d_lim = D - n
    pairs=((60, 40), (120, 60)),
    n_planes=8,
    plane_steps=2000,
    plane_lr=0.05,
    success_tol=1e-4,
    # tunnels and probes
    D_tunnel=200,
    n_tunnel=150,
    opt_steps=1500,
    tunnel_points=21,
    tunnel_steps=1500,
    tunnel_sizes=(11, 21, 41),
    probe_offset=0.02,
    D_probe=1000,
    n_probe=700,
    n_directions=200,
    n_radii=40,
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_TOY_SMOKE = dict(
    pairs="count",
    n_planes="count",
    plane_steps="steps",
    plane_lr="value",
    success_tol="value",
    D_tunnel="count",
    n_tunnel="count",
    opt_steps="steps",
    tunnel_points="count",
    tunnel_steps="steps",
    tunnel_sizes="count",
    probe_offset="value",
    D_probe="count",
    n_probe="count",
    n_directions="count",
    n_radii="count",
)

_TOY_PAPER = dict(
    _TOY_QUICK,
    pairs=((200, 150), (500, 300), (1000, 800)),
    n_planes=32,
    plane_steps=5000,
    D_tunnel=1000,
    n_tunnel=700,
    opt_steps=4000,
    tunnel_points=41,
    tunnel_steps=4000,
    tunnel_sizes=(11, 21, 41, 81),
    D_probe=10_000,
    n_probe=7000,
    n_directions=1000,
    n_radii=60,
)

_HYPERPLANES_QUICK = dict(
    # networks on mnist1d: (name, architecture, options)
    dataset="mnist1d",
    n_train=4000,
    n_test=1000,
    nets=(("MLP", "mlp", dict(width=64, depth=2)), ("CNN", "cnn1d", dict(channels=(32, 64, 64)))),
    full_steps=1500,
    full_lr=3e-3,
    batch_size=128,
    # intrinsic dimension: planes of every d trained at once (Fastfood, Adam, normalised steps);
    # per network: the d grid, draws per d, steps and learning rate (a step length in weight space)
    dims={"MLP": (30, 100, 300, 1000, 3000), "CNN": (100, 300, 1000, 3000)},
    n_planes={"MLP": 3, "CNN": 2},
    plane_steps={"MLP": 1000, "CNN": 500},
    plane_lr={"MLP": 4.0, "CNN": 3.0},
    # dense against Fastfood at one d (on the MLP)
    # d_int90 of the MLP on a second data set (same grid, training and criterion)
    robust_dataset="digits",
    robust_n_train=1400,
    robust_n_test=397,
    compare_d=100,
    compare_planes=3,
    # Goldilocks zone (on the MLP): plain SGD, as Fort & Scherlis
    scales=(0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
    d_curv=20,
    n_curv_planes=4,
    hessian_examples=500,
    d_train=300,
    goldilocks_planes=4,
    goldilocks_steps=300,
    goldilocks_lr=1.0,
    goldilocks_jacobian_examples=30,   # logit gradients per radius (lsl.curvature.logit_gradients.freezing)
    vys_planes=2,                      # random planes per radius for G's share of the restricted Hessian (Vysogorets et al.)
    # short directions at the optima against d_int90: (eps, delta) ranges, SLQ size, the stated factor
    short_eps=(0.5, 1.0, 2.0),
    short_delta=(0.1, 0.5, 1.0),
    short_vectors=4,
    short_steps=60,
    short_factor=2.0,
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_HYPERPLANES_SMOKE = dict(
    dataset="value",
    n_train="examples",
    n_test="examples",
    nets={"width": "width", "depth": "count", "channels": "width", "*": "value"},
    full_steps="steps",
    full_lr="value",
    batch_size="examples",
    dims="count",
    n_planes="count",
    plane_steps="steps",
    plane_lr="value",
    robust_dataset="value",
    robust_n_train="examples",
    robust_n_test="examples",
    compare_d="count",
    compare_planes="count",
    scales="value",
    d_curv="count",
    n_curv_planes="count",
    hessian_examples="subset",
    d_train="count",
    goldilocks_planes="count",
    goldilocks_steps="steps",
    goldilocks_lr="value",
    goldilocks_jacobian_examples="subset",
    vys_planes="count",
    short_eps="value",
    short_delta="value",
    short_vectors="count",
    short_steps="steps",
    short_factor="value",
)

_HYPERPLANES_PAPER = dict(
    _HYPERPLANES_QUICK,
    dataset="mnist",
    n_train=None,
    n_test=None,
    nets=(("MLP", "mlp", dict(width=200, depth=2)), ("CNN", "cnn", dict(channels=(16, 32, 32)))),
    full_steps=10_000,
    full_lr=0.001,
    dims={"MLP": (10, 30, 100, 200, 300, 500, 750, 1000, 1500, 3000, 10_000), "CNN": (10, 30, 100, 200, 300, 500, 750, 1000, 1500, 3000)},
    n_planes={"MLP": 5, "CNN": 5},
    plane_steps={"MLP": 5000, "CNN": 5000},
    robust_dataset="fashion_mnist",
    robust_n_train=None,
    robust_n_test=None,
    compare_d=300,
    compare_planes=8,
    scales=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
    d_curv=50,
    n_curv_planes=5,
    hessian_examples=5000,
    d_train=1000,
    goldilocks_steps=3000,
    short_vectors=8,
    short_steps=100,
)

_TUNNELS_QUICK = dict(
    # the toy model first (D, n of the wedge model)
    toy_D=200,
    toy_n=150,
    toy_steps=1500,
    # optima: independent initialisations of one network, trained together (A, B and C)
    dataset="mnist1d",
    n_train=4000,
    n_test=1000,
    arch="mlp",
    net=dict(width=64, depth=2, activation="relu"),
    n_optima=3,
    steps=6000,
    lr=3e-3,
    batch_size=128,
    plane_n=31,
    # the tunnel of Section 4.2 and the Bezier baseline
    tunnel_points=11,
    tunnel_steps=3000,
    tunnel_lr=3e-3,
    bezier_steps=1500,
    bezier_lr=3e-3,
    bezier_samples=4,
    bezier_points=61,          # where the trained curve's loss (and barrier) is measured
    # short directions: Hessian eigenvalues above 2 delta / eps^2 (on hessian_examples examples)
    short_eps=1.0,
    short_delta=0.5,
    hessian_examples=1000,
    # the wall and the tunnel on other networks and data (Section 4.1): (data set, activation), same architecture
    robust_cases=(("mnist1d", "tanh"), ("digits", "relu")),
    robust_n_train={"mnist1d": 4000, "digits": 1400},
    robust_n_test={"mnist1d": 1000, "digits": 397},
    # four statements of the text: the first steps (radial motion), random paths, basins along random directions
    early_steps=100,
    random_paths=20,
    basin_directions=20,
    basin_radii=41,
    # monotonic linear interpolation (Lucas et al. 2021): seeds per run, each run (optimiser, learning rate)
    # trained for mli_steps steps at a constant learning rate, the smaller learning rate of each optimiser first
    mli_steps=500,
    mli_seeds=5,
    mli_runs=(("sgd", 0.1), ("sgd", 1.0), ("adam", 0.003), ("adam", 0.05)),
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_TUNNELS_SMOKE = dict(
    toy_D="count",
    toy_n="count",
    toy_steps="steps",
    dataset="value",
    n_train="examples",
    n_test="examples",
    arch="value",
    net={"width": "width", "depth": "count", "channels": "width", "*": "value"},
    n_optima="count",
    steps="steps",
    lr="value",
    batch_size="examples",
    plane_n="count",
    tunnel_points="count",
    tunnel_steps="steps",
    tunnel_lr="value",
    bezier_steps="steps",
    bezier_lr="value",
    bezier_samples="count",
    bezier_points="count",
    short_eps="value",
    short_delta="value",
    hessian_examples="subset",
    robust_cases="cases",
    early_steps="steps",
    random_paths="count",
    basin_directions="count",
    basin_radii="count",
    robust_n_train="examples",
    robust_n_test="examples",
    mli_steps="steps",
    mli_seeds="seeds",
    mli_runs="value",
)

_TUNNELS_PAPER = dict(
    _TUNNELS_QUICK,
    toy_D=1000,
    toy_n=700,
    toy_steps=4000,
    dataset="fashion_mnist",
    n_train=None,
    n_test=None,
    arch="cnn",
    net=dict(channels=(16, 32, 32), activation="tanh"),
    steps=20_000,
    lr=0.001,
    plane_n=51,
    tunnel_points=21,
    tunnel_steps=10_000,
    tunnel_lr=0.001,
    bezier_steps=10_000,
    bezier_lr=0.001,
    hessian_examples=5000,
    robust_cases=(("fashion_mnist", "relu"), ("mnist", "tanh")),
    robust_n_train=dict(fashion_mnist=None, mnist=None),
    robust_n_test=dict(fashion_mnist=None, mnist=None),
    mli_steps=3000,
    mli_runs=(("sgd", 0.03), ("sgd", 0.3), ("adam", 0.001), ("adam", 0.01)),   # the CNN's own scale of rates
)

_CONNECTORS_QUICK = dict(
    # the toy model (D, n of the wedge model), its optima and the tunnel between two of them
    toy_D=200,
    toy_n=150,
    toy_steps=1500,
    toy_tunnel_points=11,
    toy_connector_steps=1000,        # the paper's construction of the toy model's m-connectors
    # optima: seeds independent sets of n_optima networks (n_optima = max_m + 1), trained as one batch
    dataset="mnist1d",
    n_train=4000,
    n_test=1000,
    arch="mlp",
    net=dict(width=64, depth=2),
    seeds=5,                         # independent sets of max_m + 1 optima (network and toy): the spread of the counts
    steps=6000,
    lr=3e-3,
    batch_size=128,
    tunnel_lr=3e-3,                  # the learning rate of every optimisation in a subspace
    # short directions: Hessian eigenvalues above 2 delta / eps^2 (on hessian_examples examples)
    short_eps=1.0,
    short_delta=0.5,
    hessian_examples=1000,
    # m-connectors for m = 1 .. max_m
    max_m=5,
    connector_resolution=2,
    connector_steps=1500,
    simplex_steps=1000,              # the m-connector trained as a whole (connectors.train_simplices)
    simplex_samples=8,               # random points of the simplex per step
    toy_ms=(1, 2, 3, 5, 10),         # m-connectors on the toy model
    toy_resolution=3,
    toy_simplex_steps=3000,
    toy_simplex_samples=32,
    toy_short_delta=0.01,            # tolerance of the toy model's short-direction count
    # centroids optimised until they reach the optima's loss (checked every check_every steps)
    centroid_steps=6000,
    check_every=50,
    simplex_random=100,
    simplex_edge=11,
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_CONNECTORS_SMOKE = dict(
    toy_D="count",
    toy_n="count",
    toy_steps="steps",
    toy_tunnel_points="count",
    toy_connector_steps="steps",
    dataset="value",
    n_train="examples",
    n_test="examples",
    arch="value",
    net={"width": "width", "depth": "count", "channels": "width", "*": "value"},
    seeds="seeds",
    steps="steps",
    lr="value",
    batch_size="examples",
    tunnel_lr="value",
    short_eps="value",
    short_delta="value",
    hessian_examples="subset",
    max_m="count",
    connector_resolution="count",
    connector_steps="steps",
    simplex_steps="steps",
    simplex_samples="count",
    toy_ms="count",
    toy_resolution="count",
    toy_simplex_steps="steps",
    toy_simplex_samples="count",
    toy_short_delta="value",
    centroid_steps="steps",
    check_every="interval",
    simplex_random="count",
    simplex_edge="count",
)

_CONNECTORS_PAPER = dict(
    _CONNECTORS_QUICK,
    toy_D=1000,
    toy_n=700,
    toy_steps=4000,
    toy_tunnel_points=21,
    toy_connector_steps=4000,
    dataset="fashion_mnist",
    n_train=None,
    n_test=None,
    arch="cnn",
    net=dict(channels=(16, 32, 32)),
    steps=20_000,
    lr=0.001,
    tunnel_lr=0.001,
    hessian_examples=5000,
    max_m=10,
    connector_steps=10_000,
    simplex_steps=10_000,
    toy_simplex_steps=5000,
    centroid_steps=30_000,
    check_every=200,
    simplex_random=500,
    simplex_edge=21,
)

_GEOMETRY_QUICK = dict(
    # 1. C outliers on Gaussian mixtures: ReLU MLP, full-batch Adam
    mixture_classes=(2, 5, 10, 20),
    mixture_per_class=100,
    mixture_dim=10,
    mixture_separation=2.0,
    mixture_net=dict(width=32, depth=2, activation="relu"),
    mixture_steps=300,
    mixture_lr=3e-3,
    mixture_checkpoints=(30, 60, 120, 300),
    # 1-2. the same on a real data set, and gradient confinement along training
    dataset="mnist1d",
    n_train=4000,
    n_test=1000,
    arch="mlp",
    net=dict(width=64, depth=2, activation="relu"),
    steps=1500,
    lr=3e-3,
    batch_size=128,
    checkpoint_every=150,
    # 3. the curvature transient: top eigenvalue along runs at several learning rates
    transient_arch="cnn1d",
    transient_net=dict(),
    transient_lrs=(1e-3, 3e-3),
    transient_seeds=(0, 1, 2),       # independent initialisations per learning rate: the spread of the transient
    transient_steps=1500,
    transient_every=100,
    hessian_examples=1000,
    freeze_examples=50,              # logit gradients along the transient runs (C backward passes each)
    # 1-2 across networks and data: (data set, activation) of one MLP, checkpoints after initialisation
    robust_cases=(("mnist1d", "relu"), ("mnist1d", "tanh"), ("digits", "relu"), ("digits", "tanh")),
    robust_arch="mlp",
    robust_net=dict(width=64, depth=2),
    robust_n_train={"mnist1d": 4000, "digits": 1400},
    robust_n_test={"mnist1d": 1000, "digits": 397},
    robust_points=2,
    # 1b. block structure of the exact Hessian (Dong et al. 2025): a 1-hidden-layer MLP on Gaussian mixtures
    block_classes=(2, 4, 8, 16),
    block_seeds=(0, 1, 2),           # initialisations per number of classes
    block_per_class=40,
    block_net=dict(width=16, depth=1, activation="relu"),
    block_steps=200,                 # full-batch Adam from the first seed, for the trained point
    # 6. pictures of the final point: grid points per axis, and the filter-normalised plane's half-width
    plane_n=21,
    filter_span=0.5,
    # 5. logit-gradient cosines and the random model
    cosine_per_class=8,
    model_D=2000,
    model_per_class=20,
    # 5. the BBP transition of the random model: parameters, examples per class, points of the sweep
    bbp_D=1000,
    bbp_per_class=20,
    bbp_points=9,
    eig_tol=1e-3,
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_GEOMETRY_SMOKE = dict(
    mixture_classes="names",
    mixture_per_class="examples",
    mixture_dim="count",
    mixture_separation="value",
    mixture_net={"width": "width", "depth": "count", "*": "value"},
    mixture_steps="steps",
    mixture_lr="value",
    mixture_checkpoints="steps",
    dataset="value",
    n_train="examples",
    n_test="examples",
    arch="value",
    net={"width": "width", "depth": "count", "channels": "width", "*": "value"},
    steps="steps",
    lr="value",
    batch_size="examples",
    checkpoint_every="interval",
    transient_arch="value",
    transient_net={"channels": "width", "*": "value"},
    transient_lrs="value",
    transient_seeds="seeds",
    transient_steps="steps",
    transient_every="interval",
    hessian_examples="subset",
    freeze_examples="subset",
    robust_cases="cases",
    robust_arch="value",
    robust_net={"width": "width", "depth": "count", "*": "value"},
    robust_n_train="examples",
    robust_n_test="examples",
    robust_points="count",
    block_classes="names",
    block_seeds="seeds",
    block_per_class="examples",
    block_net={"width": "width", "depth": "count", "*": "value"},
    block_steps="steps",
    plane_n="count",
    filter_span="value",
    cosine_per_class="examples",
    model_D="count",
    model_per_class="examples",
    bbp_D="count",
    bbp_per_class="examples",
    bbp_points="count",
    eig_tol="value",
)

_GEOMETRY_PAPER = dict(
    _GEOMETRY_QUICK,
    mixture_per_class=500,
    mixture_dim=50,
    mixture_net=dict(width=128, depth=2, activation="relu"),
    mixture_steps=1000,
    mixture_checkpoints=(100, 200, 500, 1000),
    block_classes=(2, 4, 8, 16, 32),
    block_per_class=100,
    block_net=dict(width=32, depth=1, activation="relu"),
    block_steps=1000,
    dataset="cifar10",
    n_train=None,
    n_test=None,
    arch="cnn",
    net=dict(channels=(16, 32, 32)),
    steps=10_000,
    lr=0.001,
    checkpoint_every=1000,
    transient_arch="cnn",
    transient_net=dict(channels=(16, 32, 32)),
    transient_lrs=(0.0003, 0.001, 0.003),
    transient_steps=10_000,
    transient_every=500,
    hessian_examples=5000,
    robust_cases=(("mnist", "relu"), ("mnist", "tanh"), ("fashion_mnist", "relu"), ("fashion_mnist", "tanh")),
    robust_net=dict(width=256, depth=2),
    robust_n_train=dict(mnist=None, fashion_mnist=None),
    robust_n_test=dict(mnist=None, fashion_mnist=None),
    cosine_per_class=10,
    model_D=20_000,
    model_per_class=100,
    bbp_D=10_000,
    bbp_per_class=100,
)

_WIDTHS_QUICK = dict(
    # the network and its data
    dataset="mnist1d",
    n_train=4000,
    n_test=1000,
    arch="mlp",
    net=dict(width=64, depth=2, activation="relu"),
    chunk_size=8,  # batched evaluations in chunks of 8 points (about 2x faster on a CPU)
    # training: plain SGD at a constant rate, every member stopped at a matched training loss
    lr=0.2,
    batch_size=128,
    target_loss=0.5,
    check_every=50,
    max_steps=20_000,
    seeds=(0, 1, 2),
    # one family per hyperparameter (the base value of each is the shared setting above)
    sweeps={"lr": (0.1, 0.2, 0.4, 0.8, 1.6), "batch_size": (32, 128, 512), "l2": (0.0, 1e-3, 3e-3),
            "dropout": (0.0, 0.1, 0.2, 0.3), "width": (32, 64, 128)},
    # the width of the radial tunnel: loss rise above the optimum, random directions, radial grid
    rise=0.5,
    n_directions=10,
    max_angle=0.6,
    n_radii=13,
    # Figure 2: three initialisations trained together, the plane through them at four moments
    fig2_seeds=(0, 1, 2),
    fig2_steps=2000,
    fig2_moments=(250, 500, 1000, 2000),
    plane_n=21,
    path_points=21,
    # Figure 4, right: short directions (Hessian eigenvalues above 2 delta / eps^2) versus learning rate
    short_eps=1.0,
    short_delta=0.5,
    hessian_examples=1000,
    short_k_max=400,
    # the five sweeps on other networks and data (Section 4.1), one seed each: (data set, activation), the
    # chapter's architecture and protocol. Per data set: the matched training loss and a factor on every
    # learning rate (digits reaches a loss of 0.5 in about a hundred steps, and its ReLU network dies at 1.6)
    robust_cases=(("mnist1d", "tanh"), ("digits", "relu")),
    robust_n_train={"mnist1d": 4000, "digits": 1400},
    robust_n_test={"mnist1d": 1000, "digits": 397},
    robust_target_loss={"mnist1d": 0.5, "digits": 0.1},
    robust_lr_scale={"mnist1d": 1.0, "digits": 0.5},
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_WIDTHS_SMOKE = dict(
    dataset="value",
    n_train="examples",
    n_test="examples",
    arch="value",
    net={"width": "width", "depth": "count", "channels": "width", "*": "value"},
    chunk_size="count",
    lr="value",
    batch_size="examples",
    target_loss="value",
    check_every="interval",
    max_steps="steps",
    seeds="seeds",
    sweeps={"batch_size": "examples", "width": "width", "*": "value"},
    rise="value",
    n_directions="count",
    max_angle="value",
    n_radii="count",
    fig2_seeds="names",
    fig2_steps="steps",
    fig2_moments="steps",
    plane_n="count",
    path_points="count",
    short_eps="value",
    short_delta="value",
    hessian_examples="subset",
    short_k_max="count",
    robust_cases="cases",
    robust_n_train="examples",
    robust_n_test="examples",
    robust_target_loss="value",
    robust_lr_scale="value",
)

_WIDTHS_PAPER = dict(
    _WIDTHS_QUICK,
    dataset="cifar10",
    n_train=None,
    n_test=None,
    arch="cnn",
    net=dict(channels=(16, 32, 32), activation="tanh"),
    chunk_size=None,
    lr=0.02,
    target_loss=1.0,
    check_every=200,
    max_steps=100_000,
    sweeps=dict(lr=(0.01, 0.02, 0.04, 0.08, 0.16), batch_size=(32, 128, 512), l2=(0.0, 0.0003, 0.001, 0.003), dropout=(0.0, 0.1, 0.25, 0.5), width=(8, 16, 32)),
    n_directions=20,
    n_radii=17,
    fig2_steps=40_000,
    fig2_moments=(2500, 5000, 10_000, 40_000),
    plane_n=41,
    path_points=41,
    hessian_examples=5000,
    short_k_max=1000,
    robust_cases=(("cifar10", "relu"), ("fashion_mnist", "tanh")),
    robust_n_train=dict(cifar10=None, fashion_mnist=None),
    robust_n_test=dict(cifar10=None, fashion_mnist=None),
    robust_target_loss=dict(cifar10=1.0, fashion_mnist=0.3),
    robust_lr_scale=dict(cifar10=1.0, fashion_mnist=1.0),
)

_ENSEMBLES_QUICK = dict(
    # the tanh 1-D CNN on mnist1d; a large test set keeps the standard error of an accuracy near 0.3%
    dataset="mnist1d",
    n_train=4000,
    n_test=4000,
    arch="cnn1d",
    net=dict(channels=(16, 32, 32), activation="tanh"),
    batch_size=128,
    momentum=0.9,
    # independent pre-training (SGD, cosine decay): the starting points of the cycles, and the deep ensemble
    seeds=3,
    pretrain_steps=1000,
    pretrain_lr=0.1,
    # cyclic cosine schedules from the pre-trained points: cycles x cycle_steps at each maximum learning rate,
    # swept up to and past the largest one at which training stays stable
    cycles=5,
    cycle_steps=160,
    max_lrs=(0.05, 0.2, 0.3, 0.33, 0.36, 0.4),
    # training has broken down at a maximum learning rate where the last snapshots' training loss (mean over
    # seeds) ends above this multiple of the pre-trained points' training loss
    breakdown_factor=2.0,
    # training losses of snapshots, their average and the lines between them: on this many training examples
    loss_examples=1000,
    path_points=5,
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_ENSEMBLES_SMOKE = dict(
    dataset="value",
    n_train="examples",
    n_test="examples",
    arch="value",
    net={"channels": "width", "*": "value"},
    batch_size="examples",
    momentum="value",
    seeds="seeds",
    pretrain_steps="steps",
    pretrain_lr="value",
    cycles="count",
    cycle_steps="steps",
    max_lrs="value",
    breakdown_factor="value",
    loss_examples="examples",
    path_points="count",
)

_ENSEMBLES_PAPER = dict(
    _ENSEMBLES_QUICK,
    dataset="cifar10",
    n_train=None,
    n_test=None,
    arch="cnn",
    net=dict(channels=(32, 64, 128), activation="tanh"),
    pretrain_steps=15_600,
    pretrain_lr=0.05,
    cycle_steps=3900,
    max_lrs=(0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25),
    loss_examples=5000,
    path_points=11,
)

_PERMUTATIONS_QUICK = dict(
    # MLPs on scikit-learn's digits, which they fit to a low training loss in a few hundred steps
    dataset="digits",
    n_train=None,
    n_test=None,
    arch="mlp",
    net=dict(depth=2, activation="relu"),
    widths=(8, 16, 32, 64, 128),
    seeds=3,                # independent initialisations per width (every pair of them is compared)
    steps=600,
    lr=3e-3,
    batch_size=128,
    path_points=11,         # points on each straight line, ends included
    stats_examples=None,    # examples for the units' statistics and REPAIR (None: the whole training set)
    # the tunnel between two optima (Section 4.2 of Fort & Jastrzebski), at the width closest to tunnel_width
    tunnel_width=32,
    tunnel_points=5,
    tunnel_steps=300,
    tunnel_lr=3e-3,
    # batch norm on the aligned line: MLPs with batch norm at the width closest to bn_width (cfg.seeds of them)
    bn_width=32,
    bn_steps=300,
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_PERMUTATIONS_SMOKE = dict(
    dataset="value",
    n_train="value",
    n_test="value",
    arch="value",
    net="count",
    widths="width",
    seeds="seeds",
    steps="steps",
    lr="value",
    batch_size="examples",
    path_points="count",
    stats_examples="examples",
    tunnel_width="width",
    tunnel_points="count",
    tunnel_steps="steps",
    tunnel_lr="value",
    bn_width="width",
    bn_steps="steps",
)

_PERMUTATIONS_PAPER = dict(
    _PERMUTATIONS_QUICK,
    dataset="mnist",
    net=dict(depth=3, activation="relu"),
    widths=(32, 64, 128, 256, 512, 1024),
    seeds=5,
    steps=10_000,
    lr=0.001,
    path_points=21,
    stats_examples=10_000,
    tunnel_width=512,
    tunnel_points=11,
    tunnel_steps=5000,
    tunnel_lr=0.001,
    bn_width=128,
    bn_steps=10_000,
)

_OWN_NETWORK_QUICK = dict(
    # the guide page "Your own network": a small ResNet with batch norm on mnist1d, every probe on a budget
    dataset="mnist1d",
    n_train=1000,
    n_test=500,
    channels=(4, 8),        # the ResNet's stages (the stem has channels[0])
    loader_batch=250,       # examples per batch of the DataLoader, and of the curvature over batches
    steps=200,
    lr=1e-2,
    batch_size=50,
    path_points=11,         # points on the straight line, ends included
    tunnel_points=5,
    tunnel_steps=60,
    curvature_examples=250, # curvature on the first examples (L.subset)
    n_top=14,               # top Hessian eigenvalues
    slq_vectors=1,
    slq_steps=30,
    plane_n=9,              # grid points per axis of a loss plane
    short_eps=2.0,          # a step of this length ...
    short_delta=2.0,        # ... raising the loss by more than this makes a direction short
    short_k_max=40,
    n_directions=8,         # radial width: random directions and radii per optimum
    n_radii=10,
    rise=0.1,
    dims=(10, 30, 100),     # intrinsic dimension: hyperplane dimensions d, one plane each
    n_planes=1,
    plane_steps=100,
    plane_lr=3.0,
    twin_width=32,          # the batch-norm-free twin for weight matching: an MLP of this width
    twin_steps=300,
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_OWN_NETWORK_SMOKE = dict(
    dataset="value",
    n_train="examples",
    n_test="examples",
    channels="width",
    loader_batch="count",
    steps="steps",
    lr="value",
    batch_size="examples",
    path_points="count",
    tunnel_points="count",
    tunnel_steps="steps",
    curvature_examples="subset",
    n_top="count",
    slq_vectors="count",
    slq_steps="steps",
    plane_n="count",
    short_eps="value",
    short_delta="value",
    short_k_max="count",
    n_directions="count",
    n_radii="count",
    rise="value",
    dims="count",
    n_planes="count",
    plane_steps="steps",
    plane_lr="value",
    twin_width="width",
    twin_steps="steps",
)

_OWN_NETWORK_PAPER = dict(
    _OWN_NETWORK_QUICK,
    n_train=4000,
    n_test=1000,
    channels=(16, 32),
    loader_batch=500,
    steps=3000,
    batch_size=128,
    path_points=21,
    tunnel_points=11,
    tunnel_steps=1000,
    curvature_examples=2000,
    n_top=30,
    slq_vectors=5,
    slq_steps=80,
    plane_n=21,
    short_k_max=200,
    n_directions=50,
    n_radii=40,
    dims=(30, 100, 300, 1000, 3000),
    n_planes=3,
    plane_steps=1000,
    twin_width=128,
    twin_steps=3000,
)

_DYNAMICS_QUICK = dict(
    # the edge of stability (Cohen et al.): full-batch gradient descent on an MLP with the squared loss on
    # one-hot targets (their main setting), sharpness by Lanczos every few steps
    dataset="mnist1d",
    n_test=200,
    eos_n_train=500,
    eos_net=dict(width=32, depth=2, activation="tanh"),
    eos_loss="mse",
    eos_lrs=(1.5, 2.0, 3.0),
    eos_steps=800,
    eos_every=40,
    eos_tol=1e-3,
    # the toy: gradient descent on quadratics of these curvatures at one learning rate
    toy_curvatures=(0.5, 1.5, 1.9, 2.1, 2.5),
    toy_lr=1.0,
    toy_steps=40,
    # Dom-SGD and Bulk-SGD (Song, Ahn & Yun): minibatch SGD with cross-entropy, the top C eigenvectors of the
    # Hessian of the first examples recomputed every few steps
    sub_n_train=1000,
    sub_net=dict(width=32, depth=2, activation="tanh"),
    sub_steps=500,
    sub_lr=0.1,
    sub_batch=50,
    sub_every=25,
    hessian_examples=250,
)

#: How each setting of the chapter shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_DYNAMICS_SMOKE = dict(
    dataset="value",
    n_test="examples",
    eos_n_train="examples",
    eos_net={"width": "width", "depth": "count", "*": "value"},
    eos_loss="value",
    eos_lrs="value",
    eos_steps="steps",
    eos_every="interval",
    eos_tol="value",
    toy_curvatures="value",
    toy_lr="value",
    toy_steps="count",
    sub_n_train="examples",
    sub_net={"width": "width", "depth": "count", "*": "value"},
    sub_steps="steps",
    sub_lr="value",
    sub_batch="examples",
    sub_every="interval",
    hessian_examples="subset",
)

# the paper profile: Cohen et al. train on 5000 CIFAR-10 images; here the same on 5000 mnist1d examples with
# wider networks and longer runs (the offline data set keeps the smoke scale's code paths those of quick)
_DYNAMICS_PAPER = dict(
    _DYNAMICS_QUICK,
    n_test=1000,
    eos_n_train=5000,
    eos_net=dict(width=200, depth=2, activation="tanh"),
    eos_steps=4000,
    eos_every=100,
    sub_n_train=5000,
    sub_net=dict(width=200, depth=2, activation="tanh"),
    sub_steps=3000,
    sub_every=50,
    hessian_examples=1000,
)

_SCALE_QUICK = dict(
    # the page on scale reads the ladder's records (it runs nothing): the rungs it shows, in the order of scale
    rungs=("smoke", "quick", "medium", "large", "paper"),
)

#: How each setting of the page shrinks at the ``smoke`` scale (:mod:`lsl.book.smoke`).
_SCALE_SMOKE = dict(rungs="names")

_SCALE_PAPER = dict(_SCALE_QUICK)

# The rungs of the scale ladder (lsl.book.ladder) between quick and paper: offline data on 2 CPU cores, written,
# like paper, as the changes to quick, for the chapters whose claims move with scale (the others run as in quick).
# medium: about 20-30 min for these six chapters on 2 cores per run seed; large: about 2 h per run seed, with
# mnist1d at 20k training examples and the intrinsic dimension's and the tunnels' MLP at D of about 2e5
# (width 420, depth 2: D = 198,250).

_HYPERPLANES_MEDIUM = dict(
    _HYPERPLANES_QUICK,
    n_train=10_000,
    nets=(("MLP", "mlp", dict(width=128, depth=2)), ("CNN", "cnn1d", dict(channels=(32, 64, 64)))),
    full_steps=3000,
    dims={"MLP": (30, 100, 300, 1000, 3000, 10_000), "CNN": (100, 300, 1000, 3000)},
    plane_steps={"MLP": 1500, "CNN": 750},
    hessian_examples=1000,
)

_HYPERPLANES_LARGE = dict(
    _HYPERPLANES_QUICK,
    n_train=20_000,
    nets=(("MLP", "mlp", dict(width=420, depth=2)), ("CNN", "cnn1d", dict(channels=(48, 96, 96)))),
    full_steps=5000,
    dims={"MLP": (100, 300, 1000, 3000, 10_000, 30_000), "CNN": (100, 300, 1000, 3000, 10_000)},
    plane_steps={"MLP": 2500, "CNN": 1000},
    hessian_examples=2000,
    short_steps=80,
)

_TUNNELS_MEDIUM = dict(
    _TUNNELS_QUICK,
    n_train=10_000,
    net=dict(width=128, depth=2, activation="relu"),
    steps=8000,
    tunnel_steps=4000,
    bezier_steps=2000,
    hessian_examples=2000,
    robust_n_train={"mnist1d": 10_000, "digits": 1400},
)

_TUNNELS_LARGE = dict(
    _TUNNELS_QUICK,
    n_train=20_000,
    net=dict(width=420, depth=2, activation="relu"),
    steps=10_000,
    tunnel_steps=5000,
    bezier_steps=3000,
    hessian_examples=2000,
    robust_n_train={"mnist1d": 20_000, "digits": 1400},
)

_CONNECTORS_MEDIUM = dict(
    _CONNECTORS_QUICK,
    n_train=10_000,
    net=dict(width=128, depth=2),
    steps=8000,
    connector_steps=2000,
    simplex_steps=1500,
    centroid_steps=8000,
)

_CONNECTORS_LARGE = dict(
    _CONNECTORS_QUICK,
    n_train=20_000,
    net=dict(width=256, depth=2),
    steps=10_000,
    connector_steps=3000,
    simplex_steps=2000,
    centroid_steps=10_000,
    hessian_examples=2000,
)

_GEOMETRY_MEDIUM = dict(
    _GEOMETRY_QUICK,
    mixture_per_class=200,
    mixture_dim=20,
    mixture_net=dict(width=64, depth=2, activation="relu"),
    mixture_steps=600,
    mixture_checkpoints=(60, 120, 240, 600),
    n_train=10_000,
    net=dict(width=128, depth=2, activation="relu"),
    steps=3000,
    checkpoint_every=300,
    robust_n_train={"mnist1d": 10_000, "digits": 1400},
)

_GEOMETRY_LARGE = dict(
    _GEOMETRY_QUICK,
    mixture_per_class=500,
    mixture_dim=50,
    mixture_net=dict(width=128, depth=2, activation="relu"),
    mixture_steps=1000,
    mixture_checkpoints=(100, 200, 500, 1000),
    n_train=20_000,
    net=dict(width=256, depth=2, activation="relu"),
    steps=5000,
    checkpoint_every=500,
    hessian_examples=2000,
    robust_net=dict(width=128, depth=2),
    robust_n_train={"mnist1d": 20_000, "digits": 1400},
)

_WIDTHS_MEDIUM = dict(
    _WIDTHS_QUICK,
    n_train=10_000,
    net=dict(width=128, depth=2, activation="relu"),
    sweeps={"lr": (0.1, 0.2, 0.4, 0.8, 1.6), "batch_size": (32, 128, 512), "l2": (0.0, 1e-3, 3e-3),
            "dropout": (0.0, 0.1, 0.2, 0.3), "width": (64, 128, 256)},
    fig2_steps=3000,
    fig2_moments=(375, 750, 1500, 3000),
    n_directions=15,
    robust_n_train={"mnist1d": 10_000, "digits": 1400},
)

_WIDTHS_LARGE = dict(
    _WIDTHS_QUICK,
    n_train=20_000,
    net=dict(width=256, depth=2, activation="relu"),
    sweeps={"lr": (0.1, 0.2, 0.4, 0.8, 1.6), "batch_size": (32, 128, 512), "l2": (0.0, 1e-3, 3e-3),
            "dropout": (0.0, 0.1, 0.2, 0.3), "width": (128, 256, 512)},
    fig2_steps=4000,
    fig2_moments=(500, 1000, 2000, 4000),
    n_directions=20,
    hessian_examples=2000,
    robust_n_train={"mnist1d": 20_000, "digits": 1400},
)

_ENSEMBLES_MEDIUM = dict(
    _ENSEMBLES_QUICK,
    n_train=10_000,
    pretrain_steps=2000,
    cycle_steps=320,
)

_ENSEMBLES_LARGE = dict(
    _ENSEMBLES_QUICK,
    n_train=20_000,
    net=dict(channels=(32, 64, 64), activation="tanh"),
    pretrain_steps=3000,
    cycle_steps=480,
)

#: The ``quick`` profile's settings, per chapter key (the key :func:`lsl.book.setup` takes).
QUICK = {"toy_model": _TOY_QUICK, "hyperplanes": _HYPERPLANES_QUICK, "tunnels": _TUNNELS_QUICK,
         "connectors": _CONNECTORS_QUICK, "local_geometry": _GEOMETRY_QUICK,
         "widths": _WIDTHS_QUICK, "ensembles": _ENSEMBLES_QUICK, "permutations": _PERMUTATIONS_QUICK,
         "dynamics": _DYNAMICS_QUICK, "own_network": _OWN_NETWORK_QUICK, "scale": _SCALE_QUICK}

#: How each chapter's settings shrink at the ``smoke`` scale, per chapter key: every setting has a rule.
SMOKE = {"toy_model": _TOY_SMOKE, "hyperplanes": _HYPERPLANES_SMOKE, "tunnels": _TUNNELS_SMOKE,
         "connectors": _CONNECTORS_SMOKE, "local_geometry": _GEOMETRY_SMOKE, "widths": _WIDTHS_SMOKE, "ensembles": _ENSEMBLES_SMOKE, "permutations": _PERMUTATIONS_SMOKE,
         "dynamics": _DYNAMICS_SMOKE, "own_network": _OWN_NETWORK_SMOKE, "scale": _SCALE_SMOKE}

#: The ``paper`` profile's settings, per chapter key.
PAPER = {"toy_model": _TOY_PAPER, "hyperplanes": _HYPERPLANES_PAPER, "tunnels": _TUNNELS_PAPER,
         "connectors": _CONNECTORS_PAPER, "local_geometry": _GEOMETRY_PAPER,
         "widths": _WIDTHS_PAPER, "ensembles": _ENSEMBLES_PAPER, "permutations": _PERMUTATIONS_PAPER,
         "dynamics": _DYNAMICS_PAPER, "own_network": _OWN_NETWORK_PAPER, "scale": _SCALE_PAPER}

#: The scale ladder's ``medium`` rung, per chapter key: the changes to ``quick`` of the chapters whose claims move
#: with scale (every other chapter runs as in ``quick``).
MEDIUM = dict(QUICK, hyperplanes=_HYPERPLANES_MEDIUM, tunnels=_TUNNELS_MEDIUM, connectors=_CONNECTORS_MEDIUM,
              local_geometry=_GEOMETRY_MEDIUM, widths=_WIDTHS_MEDIUM, ensembles=_ENSEMBLES_MEDIUM)

#: The scale ladder's ``large`` rung, per chapter key (as :data:`MEDIUM`).
LARGE = dict(QUICK, hyperplanes=_HYPERPLANES_LARGE, tunnels=_TUNNELS_LARGE, connectors=_CONNECTORS_LARGE,
             local_geometry=_GEOMETRY_LARGE, widths=_WIDTHS_LARGE, ensembles=_ENSEMBLES_LARGE)
