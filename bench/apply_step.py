"""Apply-step benchmark: each of our optimizers against the Keras built-in doing the same math.

    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/apply_step.py
    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/apply_step.py --rules adam --modes xla --json /tmp/apply.json
    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/apply_step.py --clock cpu   # on a busy machine

For each rule and each mode (`graph`: inside `tf.function`; `xla`: `tf.function(jit_compile=True)`)
it times `optimizer.apply(grads, variables)` on 4 million float32 parameters in 17 tensors
shaped like a small image-and-text network's weights (3x3 conv kernels, biases, a
batch-norm scale and offset, an embedding table, dense matrices: see `layer_shapes`), for
ours and for the built-in counterpart:

    sgd       optimizers.SGD(lr)                  keras.optimizers.SGD(lr)
    momentum  optimizers.Momentum(lr, m)          keras.optimizers.SGD(lr * (1 - m), momentum=m)
    rmsprop   optimizers.RMSProp(lr, rho)         keras.optimizers.RMSprop(lr, rho)
    adam      optimizers.Adam(lr)                 keras.optimizers.Adam(lr)

(RMSProp's and Adam's epsilon sit in different places in ours and Keras's, see their
docstrings; the work per step is the same.) The two are timed in interleaved blocks of
`--steps` steps (ours, built-in, built-in, ours, ...), so a slow patch of a noisy machine
hits both; each block counts as the median of its steps, timed one by one, so a burst of
another process's work during a few steps does not count. Each pair of blocks gives one
ratio ours / built-in. This is done in `--rounds` rounds of `--repetitions` pairs, each
round on freshly allocated variables and optimizer slots, because where the arrays land in
memory shifts one round's ratio by a few percent either way; the headline is the median
over all pairs of all rounds. Reported: the median ms/step of each, the median ratio with
its ~95% confidence interval and the spread of the round medians, and the effective memory
bandwidth, bytes the rule must read and write per step / time, next to that of a plain
copy of the same tensors in the same mode (and of `numpy.copyto`, an in-place memcpy on
one thread). If the round medians spread widely, raise `--rounds`. A step's time is its
elapsed time (`--clock wall`) or the CPU time this process spent on it, all threads
together (`--clock cpu`), which leaves out the time spent waiting for a core while other
processes keep the machine busy.
"""

import argparse
import json
import math
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

import optimizers
from bench.median import median_ci

DEFAULTS = {
    "params": 4_000_000,
    "rules": ["sgd", "momentum", "rmsprop", "adam"],
    "modes": ["graph", "xla"],
    "steps": 10,  # steps per timed block
    "rounds": 8,  # fresh variables and optimizers per round, see `compare`
    "repetitions": 16,  # pairs of blocks (ours, built-in) per round
    "warmup_steps": 10,
    "learning_rate": 1e-3,
    "momentum": 0.9,
    "rho": 0.9,
    "seed": 0,
    "clock": "wall",
}

# Full-size float32 arrays each rule must read or write per step, per parameter: the least
# traffic any implementation needs, e.g. Adam reads w, g, m, v and writes m, v, w.
ARRAYS_TOUCHED = {"sgd": 3, "momentum": 5, "rmsprop": 5, "adam": 7}
# A copy reads one array and writes another.
COPY_ARRAYS_TOUCHED = 2
# wall: elapsed time, what a user waits for. cpu: CPU time of this process, all its
# threads together; on a machine that other processes keep busy it leaves out the time
# this process spent waiting for a core, the bulk of the noise there.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--params", type=int, default=DEFAULTS["params"],
                        help="total float32 parameters, over several tensors")
    parser.add_argument("--rules", nargs="+", choices=DEFAULTS["rules"], default=DEFAULTS["rules"])
    parser.add_argument("--modes", nargs="+", choices=DEFAULTS["modes"], default=DEFAULTS["modes"])
    parser.add_argument("--steps", type=int, default=DEFAULTS["steps"],
                        help="optimizer steps per timed block")
    parser.add_argument("--rounds", type=int, default=DEFAULTS["rounds"],
                        help="rounds per rule and mode, each on freshly allocated variables")
    parser.add_argument("--repetitions", type=int, default=DEFAULTS["repetitions"],
                        help="pairs of interleaved blocks per round")
    parser.add_argument("--warmup-steps", type=int, default=DEFAULTS["warmup_steps"])
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"])
    parser.add_argument("--momentum", type=float, default=DEFAULTS["momentum"])
    parser.add_argument("--rho", type=float, default=DEFAULTS["rho"])
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--clock", choices=sorted(CLOCKS), default=DEFAULTS["clock"],
                        help="what a step's time is: elapsed (wall) or this process's CPU time")
    parser.add_argument("--json", metavar="PATH", help="also save the numbers as JSON")
    return parser.parse_args(argv)


def layer_shapes(total_params):
    """Shapes like a small image-and-text network's weights, about `total_params` in all.

    A realistic mix, not equal flat tensors: four 3x3 conv kernels (864 to 303k weights)
    with their biases, a batch-norm scale and offset, an embedding table (1.3M), dense
    matrices from 2.6k to 2.1M weights with their biases, 17 tensors from 10 to 2.1M
    parameters. Every width scales by one factor, found by bisection, so the total comes
    out close to `total_params`; image channels (3), kernel size (3x3) and classes (10)
    stay fixed.
    """

    def shapes(width):
        def scaled(n):
            return max(1, round(n * width))

        return [
            (3, 3, 3, scaled(32)), (scaled(32),),
            (3, 3, scaled(32), scaled(64)), (scaled(64),),
            (3, 3, scaled(64), scaled(128)), (scaled(128),),
            (3, 3, scaled(128), scaled(256)), (scaled(256),),
            (scaled(256),), (scaled(256),),  # batch-norm scale and offset
            (scaled(20000), scaled(64)),  # embedding table
            (scaled(4096), scaled(512)), (scaled(512),),
            (scaled(512), scaled(256)), (scaled(256),),
            (scaled(256), 10), (10,),
        ]

    def total(width):
        return sum(math.prod(shape) for shape in shapes(width))

    low, high = 0.0, 1.0
    while total(high) < total_params:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if total(middle) < total_params else (low, middle)
    return shapes(high)


def optimizer_pair(rule, args):
    """(ours, Keras's built-in), doing the same work per step."""
    lr, momentum, rho = args.learning_rate, args.momentum, args.rho
    if rule == "sgd":
        return optimizers.SGD(lr), keras.optimizers.SGD(lr)
    if rule == "momentum":
        # The article's moving average at rate lr is Keras's accumulated velocity at rate
        # lr * (1 - momentum): the same steps, see optimizers/momentum.py.
        return (
            optimizers.Momentum(lr, momentum=momentum),
            keras.optimizers.SGD(lr * (1 - momentum), momentum=momentum),
        )
    if rule == "rmsprop":
        return optimizers.RMSProp(lr, rho=rho), keras.optimizers.RMSprop(lr, rho=rho)
    if rule == "adam":
        return optimizers.Adam(lr), keras.optimizers.Adam(lr)
    raise ValueError(f"unknown rule: {rule!r}")


def make_apply_step(optimizer, initial_values, grads, jit_compile):
    """A compiled function doing one `optimizer.apply` on its own copy of the variables."""
    variables = [keras.Variable(value, name=f"w{i}") for i, value in enumerate(initial_values)]
    # Slots are created here, outside tf.function, which cannot create variables on later calls.
    optimizer.build(variables)

    @tf.function(jit_compile=jit_compile, autograph=False)
    def apply_step():
        optimizer.apply(grads, variables)

    return apply_step


def make_copy_step(initial_values, jit_compile):
    """A compiled function copying each tensor into another of the same shape.

    `dst.assign(src)` alone would not copy: TensorFlow lets the destination share the
    source's buffer. Adding a scalar held in a variable, which no compiler can fold away,
    forces one read of each source and one write of each destination, as a copy does.
    """
    sources = [tf.Variable(value) for value in initial_values]
    destinations = [tf.Variable(tf.zeros_like(value)) for value in initial_values]
    zero = tf.Variable(0.0)

    @tf.function(jit_compile=jit_compile, autograph=False)
    def copy_step():
        for source, destination in zip(sources, destinations):
            destination.assign(source + zero)

    return copy_step


def time_block(step, steps, clock=time.perf_counter):
    """Median seconds per call of `step`, over `steps` calls timed one by one.

    The median, not the mean, so that a burst of another process's work during a few of
    the steps does not count. TensorFlow runs functions synchronously on the CPU, so each
    call returns after its last update has been written.
    """
    times = []
    for _ in range(steps):
        start = clock()
        step()
        times.append(clock() - start)
    return statistics.median(times)


def compare(rule, jit_compile, initial_values, grads, args):
    """Interleaved timed blocks of ours and the built-in, over `args.rounds` rounds.

    Each round builds both anew, so their variables and slots are freshly allocated (in
    alternating order): where the arrays land in memory moves a single round's ratio by a
    few percent either way, even within one process, so one round, or one run of a
    single-round benchmark, can mislead. Returns one dict per round with the seconds per step
    of each block and the ratio ours / built-in of each pair of blocks.
    """
    clock = CLOCKS[args.clock]
    rounds = []
    for round_index in range(args.rounds):
        ours, builtin = optimizer_pair(rule, args)
        if round_index % 2 == 0:
            step_ours = make_apply_step(ours, initial_values, grads, jit_compile)
            step_builtin = make_apply_step(builtin, initial_values, grads, jit_compile)
        else:
            step_builtin = make_apply_step(builtin, initial_values, grads, jit_compile)
            step_ours = make_apply_step(ours, initial_values, grads, jit_compile)
        for step in (step_ours, step_builtin):
            time_block(step, args.warmup_steps, clock)
        times = {step_ours: [], step_builtin: []}
        for repetition in range(args.repetitions):
            # Alternate which goes first, so neither always runs on a cache the other warmed.
            order = (step_ours, step_builtin) if repetition % 2 == 0 else (step_builtin, step_ours)
            for step in order:
                times[step].append(time_block(step, args.steps, clock))
        times_ours, times_builtin = times[step_ours], times[step_builtin]
        rounds.append({
            "ours": times_ours,
            "builtin": times_builtin,
            "ratios": [a / b for a, b in zip(times_ours, times_builtin)],
        })
    return rounds


def measure_copy(step, args):
    clock = CLOCKS[args.clock]
    time_block(step, args.warmup_steps, clock)
    return statistics.median(time_block(step, args.steps, clock) for _ in range(args.repetitions))


def measure_numpy_copy(initial_values, args):
    """Seconds per `numpy.copyto` of every tensor into a preallocated one: an in-place memcpy
    on one thread, the reference that allocates nothing."""
    sources = [np.asarray(value) for value in initial_values]
    destinations = [np.empty_like(source) for source in sources]

    def copy_step():
        for source, destination in zip(sources, destinations):
            np.copyto(destination, source)

    return measure_copy(copy_step, args)


def gigabytes_per_second(arrays_touched, params, seconds):
    return arrays_touched * 4 * params / seconds / 1e9


def print_table(results, copy_results, params, shapes):
    print(f"\n{params:,} float32 parameters in {len(shapes)} tensors: "
          + ", ".join("x".join(map(str, shape)) for shape in shapes))
    print("\n| rule | mode | ours ms/step | built-in ms/step | ratio ours/built-in (95% CI) "
          "| round medians | pairs | ours GB/s | built-in GB/s | copy GB/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in results:
        copy_bandwidth = copy_results[row["mode"]]["gb_per_s"]
        print(f"| {row['rule']} | {row['mode']} | {row['ours_ms']:.2f} | {row['builtin_ms']:.2f} "
              f"| **{row['ratio']:.3f}** ({row['ratio_low']:.3f}-{row['ratio_high']:.3f}) "
              f"| {min(row['round_medians']):.3f}-{max(row['round_medians']):.3f} "
              f"| {row['pairs']} | {row['ours_gb_per_s']:.1f} | {row['builtin_gb_per_s']:.1f} "
              f"| {copy_bandwidth:.1f} |")
    print(f"\nnumpy.copyto of the same tensors (one thread, in place): "
          f"{copy_results['numpy']['gb_per_s']:.1f} GB/s")
    print("ratio: median over all pairs of blocks, < 1: ours is faster; 95% CI treats pairs "
          "as independent; round medians: the spread between freshly allocated rounds. "
          "GB/s: bytes the rule must read and write per step / median time; copy: one read "
          "and one write of the same tensors, same mode.")


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    shapes = layer_shapes(args.params)
    params = sum(math.prod(shape) for shape in shapes)
    initial_values = [tf.random.normal(shape) for shape in shapes]
    # Gradients of a realistic size; fixed, so every step does the same arithmetic.
    grads = [tf.random.normal(shape, stddev=1e-2) for shape in shapes]
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{params:,} params, modes {args.modes}, rules {args.rules}, clock {args.clock}", flush=True)

    numpy_copy_seconds = measure_numpy_copy(initial_values, args)
    copy_results = {"numpy": {"ms": numpy_copy_seconds * 1e3,
                              "gb_per_s": gigabytes_per_second(COPY_ARRAYS_TOUCHED, params, numpy_copy_seconds)}}
    print(f"[numpy] copy: {numpy_copy_seconds * 1e3:.2f} ms, "
          f"{copy_results['numpy']['gb_per_s']:.1f} GB/s", flush=True)
    results = []
    for mode in args.modes:
        jit_compile = mode == "xla"
        copy_seconds = measure_copy(make_copy_step(initial_values, jit_compile), args)
        copy_results[mode] = {"ms": copy_seconds * 1e3,
                              "gb_per_s": gigabytes_per_second(COPY_ARRAYS_TOUCHED, params, copy_seconds)}
        print(f"[{mode}] copy: {copy_seconds * 1e3:.2f} ms, "
              f"{copy_results[mode]['gb_per_s']:.1f} GB/s", flush=True)
        for rule in args.rules:
            results.append(measure_rule(rule, mode, initial_values, grads, params, args))

    print_table(results, copy_results, params, shapes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"params": params, "shapes": shapes, "settings": vars(args), "tensorflow": tf.__version__,
                       "keras": keras.__version__, "copy": copy_results, "results": results}, f, indent=2)
        print(f"\nsaved {args.json}")


def measure_rule(rule, mode, initial_values, grads, params, args):
    """One rule in one mode: rounds of interleaved pairs (see compare), as a result row."""
    rounds = compare(rule, mode == "xla", initial_values, grads, args)
    ratios = [ratio for one_round in rounds for ratio in one_round["ratios"]]
    round_medians = [statistics.median(one_round["ratios"]) for one_round in rounds]
    ratio, ratio_low, ratio_high = median_ci(ratios)
    ours_seconds = statistics.median(t for one_round in rounds for t in one_round["ours"])
    builtin_seconds = statistics.median(t for one_round in rounds for t in one_round["builtin"])
    row = {
        "rule": rule, "mode": mode, "ours_ms": ours_seconds * 1e3, "builtin_ms": builtin_seconds * 1e3,
        "ratio": ratio, "ratio_low": ratio_low, "ratio_high": ratio_high, "round_medians": round_medians,
        "pairs": len(ratios), "ours_gb_per_s": gigabytes_per_second(ARRAYS_TOUCHED[rule], params, ours_seconds),
        "builtin_gb_per_s": gigabytes_per_second(ARRAYS_TOUCHED[rule], params, builtin_seconds), "rounds": rounds,
    }
    print(f"[{mode}] {rule}: ours {row['ours_ms']:.2f} ms, built-in {row['builtin_ms']:.2f} ms, ratio {ratio:.3f} "
          f"({ratio_low:.3f}-{ratio_high:.3f}, {len(ratios)} pairs; rounds "
          f"{min(round_medians):.3f}-{max(round_medians):.3f})", flush=True)
    return row


if __name__ == "__main__":
    main()
