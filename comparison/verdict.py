"""Which optimizers cannot be told apart from the best, with the seeds run, and how many seeds
would tell them apart.

The test: Welch's t-test, two-sided, at the 5 % level, on the final scores (validation loss;
a surface's height) over seeds, each optimizer at its own best learning rate, against the
best optimizer's. Welch's, not Student's: the spreads of two optimizers differ by orders of
magnitude. `p >= 0.05`: "tie", the seeds run cannot tell it from the best; else "worse".

Where it cannot tell, `seeds_needed` is the number of seeds per optimizer at which the same
test would find the observed gap with 80 % power, if the means and spreads stayed as
measured (the power of Welch's test, from the noncentral t distribution). A gap smaller than
the noise needs many seeds; "more than 1000" is reported as 1001. Without any spread over
seeds (a surface without noise), any gap is a difference; a gap below float32's resolution
(relative 1e-6) is none.

Caveats, said where the verdict is shown: the best learning rate of each optimizer was
chosen on these same seeds, which flatters every optimizer a little; and with 2 or 3 seeds
the test has little power: a tie is "not told apart", not "equal".
"""

import math
import warnings
from dataclasses import dataclass

ALPHA = 0.05
POWER = 0.8
MAX_SEEDS = 1000
# Scores are computed from float32 weights: a relative gap below this is rounding, not a
# difference (two rules that settle in the same dip differ by 1e-9 there).
RESOLUTION = 1e-6
TEST = ("Welch's t-test at 5 % (two-sided) on the final validation loss (a surface: its height) over seeds, "
        "each rule at its best learning rate, against the best rule")


@dataclass(frozen=True)
class Verdict:
    verdict: str  # "best", "tie", "worse", or "untested" (fewer than 2 seeds, or nothing finite)
    p_value: float | None = None
    seeds_needed: int | None = None  # for a tie: seeds per rule that would tell it apart

    def __str__(self):
        p = "" if self.p_value is None else f"p {self.p_value:.2g}" if self.p_value >= 1e-3 else "p < 0.001"
        if self.verdict == "tie":
            more = "" if not self.seeds_needed else f"; needs {self.seeds_needed} seeds" \
                if self.seeds_needed <= MAX_SEEDS else f"; needs over {MAX_SEEDS} seeds"
            return f"tie ({p}{more})"
        if self.verdict == "worse":
            return f"worse ({p})" if p else "worse (diverged)"
        return self.verdict


def verdicts(scores):
    """{name: Verdict} for `scores` {name: the final scores over seeds}; the best has the
    lowest mean (an infinite score, a diverged trial, is infinitely bad)."""
    means = {name: (sum(s) / len(s) if s and all(map(math.isfinite, s)) else math.inf) for name, s in scores.items()}
    best = min(means, key=means.get)
    found = {}
    for name, values in scores.items():
        if not math.isfinite(means[best]) or (len(values) < 2 and name != best):
            found[name] = Verdict("untested")
        elif name == best:
            found[name] = Verdict("best")
        elif not math.isfinite(means[name]):
            found[name] = Verdict("worse")
        else:
            found[name] = compare_to_best(scores[best], values)
    return found


def compare_to_best(best, other):
    """The Verdict of `other`'s scores against `best`'s (each at least 2 finite values)."""
    from scipy import stats

    gap = sum(other) / len(other) - sum(best) / len(best)
    if abs(gap) <= RESOLUTION * max(abs(sum(best) / len(best)), abs(sum(other) / len(other))):
        return Verdict("tie", 1.0)
    if _variance(best) == 0 and _variance(other) == 0:
        # No spread over seeds (a surface without noise): any gap is real, none is a tie.
        return Verdict("tie", 1.0) if gap == 0 else Verdict("worse", 0.0)
    with warnings.catch_warnings():
        # Seeds that end within float rounding of each other (a surface without noise):
        # scipy warns of "catastrophic cancellation". The gap is past RESOLUTION here, and
        # with next to no spread any such gap is real: the tiny p-value says so rightly.
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_ind(other, best, equal_var=False).pvalue)
    if p < ALPHA:
        return Verdict("worse", p)
    return Verdict("tie", p, seeds_to_tell(gap, _variance(best), _variance(other)))


def seeds_to_tell(gap, variance_a, variance_b):
    """The fewest seeds per rule (from 2) at which Welch's test at ALPHA finds `gap` with
    POWER, for these sample variances; MAX_SEEDS + 1 if more; None if there is no gap."""
    from scipy import stats

    if gap == 0:
        return None
    for n in range(2, MAX_SEEDS + 1):
        a, b = variance_a / n, variance_b / n
        freedom = (a + b) ** 2 / (a**2 / (n - 1) + b**2 / (n - 1))
        critical = stats.t.ppf(1 - ALPHA / 2, freedom)
        shift = abs(gap) / math.sqrt(a + b)
        power = stats.nct.sf(critical, freedom, shift) + stats.nct.cdf(-critical, freedom, shift)
        if power >= POWER:
            return n
    return MAX_SEEDS + 1


def _variance(values):
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)
