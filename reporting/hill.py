"""The hill: a two-weight model's loss surface with each optimizer's path over it.

`plot_hill` draws it as a PNG, `animate_hill` as a GIF of the paths advancing in step.
Both take a `models.landscapes.Landscape` (the height as a numpy function of the two
weights, with its start and minimum), which every two-weight model's kind provides, and
the paths, so they serve any two-weight model: the test surfaces and the article's linear
regression, whose height is the mean squared error over its data.

    landscape = surface_landscape("bumpy")
    plot_hill(landscape, {"sgd": path_sgd, "momentum": path_momentum}, "hill_bumpy.png")

Heights are drawn as their distance above the minimum on a log scale, with contour lines
at 1-2-5 levels: a loss surface spans decades, and the floor, where the paths differ,
would be one flat colour on a linear scale.
"""

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

from reporting.colors import colors_for
from reporting.files import write_atomically

# Light greys: the paths' colours stay the loudest thing in the figure.
_GROUND = LinearSegmentedColormap.from_list("ground", ["#ffffff", "#b4b4b4"])


# ---- what both figures share -----------------------------------------------------------

@dataclass
class _Walk:
    """One optimizer's path, ready to draw."""

    name: str
    label: str  # the name, and the learning rate when known
    color: str
    path: np.ndarray  # (steps + 1, 2), rows far outside the frame set to NaN
    heights: np.ndarray  # (steps + 1,) NaN where the path is not finite
    diverged_at: int | None  # first step that is not finite or far outside the frame


def _walks(landscape, paths, frame_reach, colors=None):
    """`paths` maps a name to a (steps + 1, 2) array, or to a result with `.path` (and
    `.trial.learning_rate`, shown in the label); `colors` a name to its colour (default:
    reporting.colors)."""
    walks = []
    colors = colors or colors_for(list(paths))
    (x0, x1), (y0, y1) = frame_reach
    for name, value in paths.items():
        path = np.array(getattr(value, "path", value), "float64")
        learning_rate = getattr(getattr(value, "trial", None), "learning_rate", None)
        label = name if learning_rate is None else f"{name} (lr {learning_rate:g})"
        finite = np.all(np.isfinite(path), axis=1)
        inside = finite & (path[:, 0] >= x0) & (path[:, 0] <= x1) & (path[:, 1] >= y0) & (path[:, 1] <= y1)
        diverged_at = None if inside.all() else int(np.argmin(inside))
        # A path that leaves for good is drawn up to where it leaves (a line to 1e30 would
        # only be a streak to the frame's edge); one that comes back is drawn whole.
        if diverged_at is not None and inside[diverged_at:].any():
            diverged_at = None
        drawn = path.copy()
        drawn[~inside] = np.nan
        with np.errstate(all="ignore"):
            heights = np.where(finite, landscape.height(np.where(finite[:, None], path, 0.0)), np.nan)
        walks.append(_Walk(name, label, colors[name], drawn, heights, diverged_at))
    return walks


def _start(landscape, paths):
    if landscape.start is not None:
        return np.asarray(landscape.start, "float64")
    first = next(iter(paths.values()))
    return np.array(getattr(first, "path", first), "float64")[0]


def _frame(landscape, paths):
    """The window the hill shows: the view, start and minimum, and the paths as far as
    they stay within half the window's size of it (a path that flies off must not shrink
    the hill to a dot). Returns ((x_min, x_max), (y_min, y_max)) and the reach box beyond
    which a path counts as gone."""
    base = [_start(landscape, paths)]
    if landscape.minimum is not None:
        base.append(np.asarray(landscape.minimum, "float64"))
    if landscape.view is not None:
        (a, b), (c, d) = landscape.view
        base += [np.array([a, c]), np.array([b, d])]
    base = np.array(base)
    low, high = base.min(axis=0), base.max(axis=0)
    size = high - low
    size = np.maximum(size, 0.2 * size.max() if size.max() > 0 else 1.0)
    reach_low, reach_high = low - 0.5 * size, high + 0.5 * size
    for value in paths.values():
        path = np.array(getattr(value, "path", value), "float64")
        ok = np.all(np.isfinite(path), axis=1) & np.all((path >= reach_low) & (path <= reach_high), axis=1)
        if ok.any():
            low, high = np.minimum(low, path[ok].min(axis=0)), np.maximum(high, path[ok].max(axis=0))
    pad = 0.05 * (high - low)
    # A path that comes no nearer than this to the frame has left it.
    far_low, far_high = low - 2 * (high - low), high + 2 * (high - low)
    return ((low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])), (
        (far_low[0], far_high[0]), (far_low[1], far_high[1]))


def _levels(top):
    """Contour levels 1, 2, 5 x 10**k from 10**-5 of the top decade up to `top`."""
    decade = math.floor(math.log10(top))
    levels = [m * 10.0 ** k for k in range(decade - 5, decade + 1) for m in (1, 2, 5)]
    return [v for v in levels if v <= top]


def _round_label(value):
    return f"{value:g}"


class _Ground:
    """The contour map over the frame, drawn into an axes."""

    def __init__(self, landscape, frame, resolution=300, minimum=None):
        (x0, x1), (y0, y1) = frame
        self.w1 = np.linspace(x0, x1, resolution)
        self.w2 = np.linspace(y0, y1, resolution)
        grid = np.stack(np.meshgrid(self.w1, self.w2), axis=-1)
        with np.errstate(all="ignore"):
            heights = np.asarray(landscape.height(grid), "float64")
        if minimum is None:
            minimum = landscape.minimum_height if landscape.minimum_height is not None else np.nanmin(heights)
        self.minimum = float(minimum)
        above = heights - self.minimum
        top = float(np.nanmax(above[np.isfinite(above)]))
        self.levels = _levels(top if top > 0 else 1.0)
        self.floor = self.levels[0]
        self.top = top
        self.above = np.clip(above, self.floor, None)
        # Bands between the levels, coloured on a log scale: each decade gets its shades.
        bounds = [self.floor / 10] + self.levels + [max(top, self.levels[-1]) * 1.0001]
        self.bounds = bounds
        self.norm = BoundaryNorm(np.log10(bounds), _GROUND.N)

    def draw(self, fig, ax, colorbar=True, label_size=7):
        filled = ax.contourf(self.w1, self.w2, np.log10(self.above), levels=np.log10(self.bounds),
                             cmap=_GROUND, norm=self.norm, zorder=0)
        decades = [v for v in self.levels if math.isclose(math.log10(v), round(math.log10(v)))]
        others = [v for v in self.levels if v not in decades]
        ax.contour(self.w1, self.w2, self.above, levels=others, colors="0.45", linewidths=0.5,
                   alpha=0.8, zorder=1)
        lines = ax.contour(self.w1, self.w2, self.above, levels=decades, colors="0.25", linewidths=0.9,
                           zorder=1)
        ax.clabel(lines, fmt=_round_label, fontsize=label_size, inline=True, inline_spacing=2)
        if colorbar:
            bar = fig.colorbar(filled, ax=ax, fraction=0.04, pad=0.02)
            ticks = [v for v in self.levels if v in decades]
            bar.set_ticks(np.log10(ticks), labels=[_round_label(v) for v in ticks])
            bar.set_label("height above the minimum (log scale; lines at 1, 2, 5)")
        ax.set_xlim(self.w1[0], self.w1[-1])
        ax.set_ylim(self.w2[0], self.w2[-1])


def _equal_aspect(frame):
    (x0, x1), (y0, y1) = frame
    ratio = (x1 - x0) / (y1 - y0)
    return 1 / 2.5 <= ratio <= 2.5


def _hill_height(frame, width):
    """The hill's height in inches for a given width: true to scale when the aspect is
    kept equal, otherwise a comfortable 0.7 of the width."""
    (x0, x1), (y0, y1) = frame
    if not _equal_aspect(frame):
        return 0.7 * width
    return min(max(width * (y1 - y0) / (x1 - x0), 0.45 * width), 1.1 * width)


def _line_widths(walks):
    # Paths that coincide (two rules that move alike) stay visible as nested stripes: the
    # first drawn is the widest.
    return np.linspace(4.2, 1.3, len(walks)) if len(walks) > 1 else [1.8]


def _describe(walk, minimum, steps_shown=None):
    """`sgd (lr 0.1): 0.6667`, `sgd (lr 0.1): 0.1396 (+3.1e-07)` where the minimum is not 0
    (so heights that round alike still differ), or `sgd (lr 0.1): diverged at step 12`."""
    last = len(walk.heights) - 1 if steps_shown is None else min(steps_shown, len(walk.heights) - 1)
    if walk.diverged_at is not None and walk.diverged_at <= last:
        return f"{walk.label}: diverged at step {walk.diverged_at}"
    height = walk.heights[last]
    return f"{walk.label}: {height:.4g}" + (f" (+{height - minimum:.2g})" if minimum != 0 else "")


def _mark_points(ax, landscape, start, ground, text_size):
    """The start, the minimum and the landmarks, as hollow markers drawn under the paths,
    so they hide no path and no path's end; the contour through each landmark, dashed."""
    ax.plot(*start, linestyle="none", marker="o", markersize=11, markerfacecolor="none",
            markeredgecolor="black", markeredgewidth=1.8, zorder=2,
            label=f"start ({start[0]:.3g}, {start[1]:.3g}): {float(landscape.height(start)):.4g}")
    if landscape.minimum is not None:
        m = landscape.minimum
        ax.plot(*m, linestyle="none", marker="*", markersize=24, markerfacecolor="none",
                markeredgecolor="black", markeredgewidth=1.3, zorder=2,
                label=f"global minimum ({m[0]:.3g}, {m[1]:.3g}): {ground.minimum:.4g}")
    for name, point in landscape.landmarks:
        height = float(landscape.height(np.asarray(point, "float64")))
        ax.plot(*point, linestyle="none", marker="D", markersize=8, markerfacecolor="none",
                markeredgecolor="black", markeredgewidth=1.2, zorder=2)
        ax.annotate(f"{name}\n{height:.4g}", point, xytext=(8, -8), textcoords="offset points",
                    ha="left", va="top", fontsize=text_size, zorder=2)
        # The level through a saddle or a ridge outlines the basins it separates; through
        # a local minimum it is the point itself, not worth a line.
        if height - ground.minimum > ground.floor and not _is_local_minimum(landscape, point, ground):
            ax.contour(ground.w1, ground.w2, ground.above, levels=[height - ground.minimum],
                       colors="black", linewidths=1.0, linestyles="dashed", zorder=1)


def _is_local_minimum(landscape, point, ground):
    step = 1e-3 * min(ground.w1[-1] - ground.w1[0], ground.w2[-1] - ground.w2[0])
    around = np.asarray(point, "float64") + step * np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1]])
    return bool(np.all(landscape.height(around) > landscape.height(np.asarray(point, "float64"))))


def _title(landscape):
    return landscape.name + (f":  {landscape.description}" if landscape.description else "")


# ---- the figures -----------------------------------------------------------------------

def plot_hill(landscape, paths, path, dpi=150, colors=None):
    """The hill as a PNG at `path` (see hill_figure), written whole or not at all."""
    figure = hill_figure(landscape, paths, colors)
    return write_atomically(path, lambda f: figure.savefig(f, format="png", dpi=dpi), mode="wb")


def hill_figure(landscape, paths, colors=None):
    """The hill: contours of the height over the two weights, each optimizer's path
    (`paths`: name -> (steps + 1, 2) array, row 0 the start, or a result with `.path`), the
    start and the minimum, and a legend with each final height. A matplotlib Figure."""
    frame, reach = _frame(landscape, paths)
    ground = _Ground(landscape, frame)
    walks = _walks(landscape, paths, reach, colors)
    start = _start(landscape, paths)

    fig = Figure(figsize=(10, _hill_height(frame, 8.2) + 2.3), layout="constrained")
    ax = fig.subplots()
    ground.draw(fig, ax)
    _mark_points(ax, landscape, start, ground, text_size="small")
    for w, width in zip(walks, _line_widths(walks)):
        ax.plot(w.path[:, 0], w.path[:, 1], color=w.color, linewidth=width, marker="o",
                markersize=width + 0.6, zorder=3, label=_describe(w, ground.minimum))
        last = w.path[~np.isnan(w.path[:, 0])][-1]
        ax.plot(*last, linestyle="none", marker="X" if w.diverged_at is not None else "o", markersize=9,
                markerfacecolor=w.color, markeredgecolor="white", markeredgewidth=1.2, zorder=4)
    if _equal_aspect(frame):
        ax.set_aspect("equal")
    _zoom_on_minimum(fig, ax, landscape, frame, ground, walks)
    ax.set_xlabel(landscape.axis_labels[0])
    ax.set_ylabel(landscape.axis_labels[1])
    steps = max(len(w.path) - 1 for w in walks)
    ax.set_title(f"{_title(landscape)}\n{steps} steps: each optimizer's path (a dot per step, "
                 "a big dot at its end)", fontsize="medium")
    seeds = {getattr(getattr(value, "trial", None), "seed", None) for value in paths.values()} - {None}
    title = f"final {landscape.height_label}" + (f" (seed {seeds.pop()})" if len(seeds) == 1 else "")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="medium",
               title=title, title_fontsize="medium", frameon=False)
    _trim_to_axes(fig, ax)
    return fig


def _zoom_on_minimum(fig, ax, landscape, frame, ground, walks):
    """Where several paths end close to the minimum, too close to tell apart at the scale
    of the hill, an inset shows that neighbourhood magnified (at least 3 times), with
    its own finer contours, in the corner of the hill that the paths cross least."""
    if landscape.minimum is None:
        return
    (x0, x1), (y0, y1) = frame
    size = np.array([x1 - x0, y1 - y0])
    minimum = np.asarray(landscape.minimum, "float64")
    ends = [w.path[-1] for w in walks if w.diverged_at is None]
    offsets = [np.abs(end - minimum) / size for end in ends]
    near = [o.max() for o in offsets if o.max() < 0.15]
    if len(near) < 2:
        return
    half = max(1.5 * max(near), 0.005)
    if half > 0.05:
        return
    box = ((minimum[0] - half * size[0], minimum[0] + half * size[0]),
           (minimum[1] - half * size[1], minimum[1] + half * size[1]))

    # The corner (in axes coordinates) with the fewest path points and marks under it.
    points = np.vstack([w.path[~np.isnan(w.path[:, 0])] for w in walks] + [minimum[None]])
    inside = (points - [x0, y0]) / size
    width = 0.36
    corners = [(1 - width, 1 - width), (0, 1 - width), (1 - width, 0), (0, 0)]
    home = (minimum - [x0, y0]) / size

    def crowding(corner):
        cx, cy = corner
        if cx - 0.02 <= home[0] <= cx + width + 0.02 and cy - 0.02 <= home[1] <= cy + width + 0.02:
            return math.inf
        return np.sum((inside[:, 0] >= cx) & (inside[:, 0] <= cx + width)
                      & (inside[:, 1] >= cy) & (inside[:, 1] <= cy + width))

    corner = min(corners, key=crowding)
    if not math.isfinite(crowding(corner)):
        return
    margin = 0.015
    cx = corner[0] + (margin if corner[0] == 0 else -margin)
    cy = corner[1] + (margin if corner[1] == 0 else -margin)
    inset = ax.inset_axes([cx, cy, width, width], zorder=6)
    zoom = _Ground(landscape, box, resolution=160, minimum=ground.minimum)
    zoom.draw(fig, inset, colorbar=False, label_size=6)
    m = landscape.minimum
    inset.plot(*m, linestyle="none", marker="*", markersize=18, markerfacecolor="none",
               markeredgecolor="black", markeredgewidth=1.2, zorder=2)
    for w, line_width in zip(walks, _line_widths(walks)):
        inset.plot(w.path[:, 0], w.path[:, 1], color=w.color, linewidth=0.7 * line_width, marker="o",
                   markersize=0.5 * line_width + 0.6, zorder=3)
        inset.plot(*w.path[-1], linestyle="none", marker="o", markersize=7, markerfacecolor=w.color,
                   markeredgecolor="white", markeredgewidth=1.0, zorder=4)
    inset.set_xlim(*box[0])
    inset.set_ylim(*box[1])
    # Its tick labels would fall on the hill's own; the contour labels and the box drawn on
    # the hill say where and how deep it is.
    inset.tick_params(labelleft=False, labelbottom=False)
    inset.text(0.03, 0.97, f"near the minimum, x{1 / (2 * half):.0f}", transform=inset.transAxes, ha="left",
               va="top", fontsize="x-small", zorder=5, bbox=dict(facecolor="white", edgecolor="none", alpha=0.8))
    ax.indicate_inset_zoom(inset, edgecolor="0.2", alpha=0.9)


def _trim_to_axes(fig, ax):
    """With an equal aspect, the axes keeps only part of the box the layout gives it, and
    the colour bar would stand taller than the hill: shrink the figure to the axes."""
    for _ in range(3):
        fig.draw_without_rendering()
        box, used = ax.get_position(original=True), ax.get_position(original=False)
        width, height = fig.get_size_inches()
        spare_w, spare_h = (box.width - used.width) * width, (box.height - used.height) * height
        if max(spare_w, spare_h) < 0.05:
            return
        fig.set_size_inches(width - spare_w, height - spare_h)


def _frame_times(steps, frames):
    """The (fractional) step each frame shows: all optimizers advance together, faster
    late than early, where steps are long. Between two steps the heads move along the
    segment, so a run shorter than the animation still gives distinct frames."""
    return steps * np.linspace(0, 1, frames) ** 1.5


def _up_to(path, time):
    """The path drawn up to a fractional step: whole steps, then part of the next one."""
    whole = min(int(time), len(path) - 1)
    shown = path[: whole + 1]
    if whole + 1 < len(path) and time > whole:
        between = path[whole] + (time - whole) * (path[whole + 1] - path[whole])
        shown = np.vstack([shown, between])
    return shown


def animate_hill(landscape, paths, path, frames=60, fps=12, dpi=90, colors=None):
    """The hill as an animated GIF at `path`, written whole or not at all: every optimizer's
    path advancing in step, `frames` frames (at least 30), the step number and each
    optimizer's current height in a side panel of height against step."""
    frame, reach = _frame(landscape, paths)
    walks = _walks(landscape, paths, reach, colors)
    scene = _Scene(landscape, paths, frame, walks, dpi)
    steps = max(len(w.path) - 1 for w in walks)
    images = [scene.frame(time, steps) for time in _frame_times(steps, max(30, int(frames)))]
    return _write_gif(images, walks, path, fps)


class _Scene:
    """The animation's figure: the hill and the height curves drawn once as a background;
    each frame redraws only the moving parts (paths, heads, curves, texts)."""

    def __init__(self, landscape, paths, frame, walks, dpi):
        self.landscape, self.walks = landscape, walks
        self.ground = _Ground(landscape, frame, resolution=200)
        self.fig = Figure(figsize=(11, max(_hill_height(frame, 6.2), 4.6) + 0.9), dpi=dpi, layout="constrained")
        self.canvas = FigureCanvasAgg(self.fig)
        hill, right = self.fig.subfigures(1, 2, width_ratios=[1.6, 1])
        self.hill_ax = hill.subplots()
        self.curve_ax, self.legend_ax = right.subplots(2, 1, height_ratios=[3, 1])
        self._draw_hill(frame, _start(landscape, paths))
        self._draw_curve_axes(max(len(w.path) - 1 for w in walks))
        self.moving = [self._moving_parts(w, width) for w, width in zip(walks, _line_widths(walks))]
        self._draw_legend()
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def _draw_hill(self, frame, start):
        ax, landscape = self.hill_ax, self.landscape
        self.ground.draw(self.fig, ax, colorbar=False, label_size=6)
        _mark_points(ax, landscape, start, self.ground, text_size="x-small")
        if _equal_aspect(frame):
            ax.set_aspect("equal")
        ax.set_xlabel(landscape.axis_labels[0])
        ax.set_ylabel(landscape.axis_labels[1])
        ax.set_title(_title(landscape), fontsize="small")

    def _draw_curve_axes(self, steps):
        # Height above the minimum, on a log axis down to 12 decades below the hill's top.
        lowest = self.ground.top * 1e-12
        self.above = {w.name: np.maximum(w.heights - self.ground.minimum, lowest) for w in self.walks}
        finite = np.concatenate([a[np.isfinite(a)] for a in self.above.values()])
        ax = self.curve_ax
        ax.set_yscale("log")
        ax.set_ylim(finite.min() / 2, min(finite.max(), self.ground.top) * 3)
        ax.set_xlim(0, max(steps, 1))
        ax.set_xlabel("step")
        ax.set_ylabel(f"{self.landscape.height_label} above the minimum")
        ax.grid(alpha=0.3, which="major")

    def _moving_parts(self, w, width):
        line, = self.hill_ax.plot([], [], color=w.color, linewidth=width * 0.8, marker="o", markersize=width * 0.6,
                                  zorder=3, animated=True)
        head, = self.hill_ax.plot([], [], linestyle="none", marker="o", markersize=8, markerfacecolor=w.color,
                                  markeredgecolor="white", markeredgewidth=1.2, zorder=4, animated=True)
        curve, = self.curve_ax.plot([], [], color=w.color, linewidth=1.5, animated=True)
        return w, line, head, curve

    def _draw_legend(self):
        # A legend in its own box under the curves, so it hides none: a line of colour per
        # optimizer (background) and its current height (text redrawn each frame, much
        # cheaper than a Legend), under the step number.
        ax = self.legend_ax
        ax.axis("off")
        rows = len(self.moving) + 1
        row_y = 1 - (np.arange(rows) + 0.5) / rows
        self.step_text = ax.text(0.02, row_y[0], "", fontsize="medium", va="center", animated=True)
        self.height_texts = []
        for (w, *_), y in zip(self.moving, row_y[1:]):
            ax.plot([0.02, 0.12], [y, y], color=w.color, linewidth=2.5)
            self.height_texts.append(ax.text(0.15, y, "", fontsize="medium", va="center", animated=True))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)

    def frame(self, time, steps):
        """The picture at a (fractional) step, as an RGB image."""
        from PIL import Image

        step = int(time)
        self.canvas.restore_region(self.background)
        for (w, line, head, curve), text in zip(self.moving, self.height_texts):
            shown = _up_to(w.path, time)
            line.set_data(shown[:, 0], shown[:, 1])
            drawn = shown[~np.isnan(shown[:, 0])]
            head.set_data(drawn[-1:, 0], drawn[-1:, 1])
            curve.set_data(np.arange(min(step, len(w.path) - 1) + 1), self.above[w.name][: step + 1])
            text.set_text(_describe(w, self.ground.minimum, step))
            for artist in (line, head, curve, text):
                self.fig.draw_artist(artist)
        self.step_text.set_text(f"step {step} of {steps}: {self.landscape.height_label} now")
        self.fig.draw_artist(self.step_text)
        return Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba()).convert("RGB")


def _write_gif(images, walks, path, fps):
    # One palette for all frames, no dithering: flat colours compress well and do not
    # flicker from frame to frame. It is the last frame's (which holds every colour) plus
    # each optimizer's colour exactly, which median cut would otherwise blend away.
    from PIL import Image

    exact = [tuple(round(255 * c) for c in to_rgb(w.color)) for w in walks]
    palette = images[-1].quantize(colors=256 - len(exact), method=Image.Quantize.MEDIANCUT)
    palette.putpalette(palette.getpalette()[: 3 * (256 - len(exact))] + [c for rgb in exact for c in rgb])
    frames = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    durations = [round(1000 / fps)] * (len(frames) - 1) + [2500]
    return write_atomically(path, lambda f: frames[0].save(f, save_all=True, append_images=frames[1:],
                                                           duration=durations, loop=0, format="GIF"), mode="wb")
