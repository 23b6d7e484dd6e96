"""One colour per optimizer, the same in every figure: the registry's colour for each of its
optimizers, then distinct colours for any other (a Keras built-in, the user's own), in the
order they come, however many there are."""

import colorsys

from optimizers.registry import REGISTRY

# tab10's colours the registry leaves free, in tab10's order.
_MORE = ["tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]


def colors_for(names):
    """{name: matplotlib colour} for the optimizers `names`, all different."""
    colors = {name: REGISTRY[name].color for name in names if name in REGISTRY}
    free = [c for c in _MORE if c not in colors.values()]
    others = [name for name in names if name not in colors]
    # Beyond tab10, hues evenly spaced around the circle, mid lightness.
    extra = max(0, len(others) - len(free))
    free += [colorsys.hls_to_rgb((k + 0.5) / extra, 0.45, 0.75) for k in range(extra)]
    colors.update(zip(others, free))
    return colors
