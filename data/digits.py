"""`digits`: an offline 28 x 28 grayscale digit dataset, rendered from the fonts matplotlib ships.

Each image is one of the ten digit glyphs of a font chosen at random from `FONT_FILES`,
drawn white on black like MNIST, with its longer side about 20 of the 28 pixels, then
jittered per sample: rotation, shear, scale, aspect and translation, stroke thickness,
blur, contrast and pixel noise. The ranges below are tuned so the task is not linearly
separable: the small CNN in `models/` reaches well above 0.9 test accuracy in three epochs
while a linear softmax classifier stays clearly below it.

The same seed gives the same arrays on the same software stack (fonts are rasterised by
matplotlib's FreeType, so another FreeType version may shift pixels slightly). The first
call generates the data in a few seconds and caches it as uint8 in an .npz file; later
calls read the cache, checked against its checksum (data/cache.py).
"""

import os

import numpy as np

from data.cache import cached, default_cache_dir

# Bump whenever the generator's output changes, so an old cache is never read as new data.
GENERATOR_VERSION = 1

NUM_CLASSES = 10
NUM_TRAIN = 10_000
NUM_TEST = 2_000
IMAGE_SIZE = 28

# Fonts in matplotlib's mpl-data/fonts/ttf that have the ten digits as plain glyphs.
# cmmi10's are old-style figures (descending 3-9), which adds shapes fonts otherwise share.
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf", "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf", "cmmi10.ttf",
)

# Glyphs are rendered and warped at SUPERSAMPLE times the final resolution, then averaged
# down, which anti-aliases the warp without a separate filter.
SUPERSAMPLE = 2
GLYPH_BOX = 20  # the glyph's longer side, in final pixels, before jitter (MNIST's 20 x 20 box)
TEMPLATE_SIZE = 32 * SUPERSAMPLE  # the glyph, its blur, and a blank border

# Per-sample jitter, each drawn uniformly from its range.
ROTATION_DEGREES = (-12.0, 12.0)
SHEAR = (-0.25, 0.25)
SCALE = (0.85, 1.1)
ASPECT = (0.85, 1.15)  # width relative to height
SHIFT_PIXELS = (-2.5, 2.5)
# Glyphs are blurred once, then cut at a per-sample level: a low level keeps more of the
# blurred edge, so strokes come out thicker.
STROKE_LEVEL = (0.2, 0.5)
BLUR = (0.0, 1.0)  # weight of a 3 x 3 blur mixed into the image
INK = (0.7, 1.0)  # stroke brightness
NOISE_STD = (0.0, 0.15)

# What generate_digits makes, as the cache must hold it.
LAYOUT = {
    "x_train": ("uint8", (NUM_TRAIN, IMAGE_SIZE, IMAGE_SIZE)), "y_train": ("uint8", (NUM_TRAIN,)),
    "x_test": ("uint8", (NUM_TEST, IMAGE_SIZE, IMAGE_SIZE)), "y_test": ("uint8", (NUM_TEST,)),
}


def load_digits(seed=0, cache_dir=None):
    """Load `digits` for `seed`, generating and caching it on the first call.

    Returns `((x_train, y_train), (x_test, y_test))`: images float32 in [0, 1] of shape
    (N, 28, 28, 1), labels int64 of shape (N,); 10,000 train and 2,000 test images, each
    split holding every class equally often. The cache is the file
    `digits-v{GENERATOR_VERSION}-seed{seed}.npz` in `cache_dir`, by default Keras's dataset
    cache (`$KERAS_HOME/datasets`, else `~/.keras/datasets`).
    """
    file_name = f"digits-v{GENERATOR_VERSION}-seed{seed}.npz"
    path = os.path.join(cache_dir or default_cache_dir(), file_name)
    arrays = cached(path, lambda: generate_digits(seed), LAYOUT)
    return tuple(
        (_to_float(arrays[f"x_{split}"]), arrays[f"y_{split}"].astype(np.int64))
        for split in ("train", "test")
    )


def generate_digits(seed=0):
    """Generate `digits` afresh: a dict of uint8 images (N, 28, 28) and uint8 labels (N,).

    Keys `x_train`, `y_train`, `x_test`, `y_test`, as in Keras's .npz files.
    """
    # RandomState, not default_rng: its streams are frozen across NumPy versions.
    rng = np.random.RandomState(seed)
    glyphs = render_glyphs()
    arrays = {}
    for split, size in (("train", NUM_TRAIN), ("test", NUM_TEST)):
        labels = rng.permutation(np.repeat(np.arange(NUM_CLASSES), size // NUM_CLASSES))
        fonts = rng.randint(len(FONT_FILES), size=size)
        images = _jitter(glyphs, fonts, labels, rng)
        arrays[f"x_{split}"] = np.round(images * 255).astype(np.uint8)
        arrays[f"y_{split}"] = labels.astype(np.uint8)
    return arrays


def render_glyphs():
    """The ten digits of every font in `FONT_FILES`, blurred, as float32 in [0, 1].

    Shape (fonts, 10, TEMPLATE_SIZE, TEMPLATE_SIZE). Each glyph is scaled so its longer
    side is `GLYPH_BOX` final pixels and centred on the middle of its bounding box.
    """
    # Imported here so that reading the cache never pays for importing matplotlib.
    import matplotlib
    from matplotlib.ft2font import FT2Font

    font_dir = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    box = GLYPH_BOX * SUPERSAMPLE
    glyphs = np.zeros((len(FONT_FILES), NUM_CLASSES, TEMPLATE_SIZE, TEMPLATE_SIZE), np.float32)
    for f, file_name in enumerate(FONT_FILES):
        font = FT2Font(os.path.join(font_dir, file_name))
        for digit in range(NUM_CLASSES):
            # Render once to measure the ink, then again at the size that fits the box.
            ink = _render(font, str(digit), pixels_per_em=box)
            ink = _render(font, str(digit), pixels_per_em=box * box / max(ink.shape))
            top = (TEMPLATE_SIZE - ink.shape[0]) // 2
            left = (TEMPLATE_SIZE - ink.shape[1]) // 2
            glyphs[f, digit, top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return _blur(glyphs, radius=2 * SUPERSAMPLE)


def _render(font, text, pixels_per_em):
    """`text` rasterised by FreeType, cropped to its ink, as float32 in [0, 1]."""
    font.set_size(pixels_per_em, 72)  # at 72 dpi one point is one pixel
    font.set_text(text)
    font.draw_glyphs_to_bitmap(antialiased=True)
    image = np.asarray(font.get_image(), np.float32) / 255
    rows, cols = np.nonzero(image)
    return image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _blur(images, radius):
    """Separable binomial blur over the last two axes, zero outside the image."""
    kernel = np.array([1.0])
    for _ in range(2 * radius):
        kernel = np.convolve(kernel, [0.5, 0.5])
    height, width = images.shape[-2:]
    padded = np.pad(images, [(0, 0)] * (images.ndim - 2) + [(radius, radius)] * 2)
    rows = sum(weight * padded[..., k : k + height, :] for k, weight in enumerate(kernel))
    blurred = sum(weight * rows[..., k : k + width] for k, weight in enumerate(kernel))
    return blurred.astype(np.float32)


def _jitter(glyphs, fonts, labels, rng):
    """Warp, thicken or thin, blur and add noise to glyphs[fonts, labels]; (N, 28, 28) in [0, 1]."""
    n = len(labels)
    inverse, offset = _random_affines(n, rng)
    level = rng.uniform(*STROKE_LEVEL, (n, 1, 1)).astype(np.float32)
    blur = rng.uniform(*BLUR, (n, 1, 1)).astype(np.float32)
    ink = rng.uniform(*INK, (n, 1, 1)).astype(np.float32)
    noise = rng.uniform(*NOISE_STD, (n, 1, 1)) * rng.standard_normal((n, IMAGE_SIZE, IMAGE_SIZE))

    out_size = IMAGE_SIZE * SUPERSAMPLE
    grid = np.arange(out_size, dtype=np.float32) - (out_size - 1) / 2
    x, y = grid[None, None, :], grid[None, :, None]
    templates = glyphs.reshape(-1, TEMPLATE_SIZE, TEMPLATE_SIZE)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    # In chunks, so the per-pixel temporaries stay small enough to sit in the CPU's cache.
    for start in range(0, n, 500):
        part = slice(start, start + 500)
        inv, off = inverse[part, :, :, None, None], offset[part, :, None, None]
        src_x = off[:, 0] + inv[:, 0, 0] * x + inv[:, 0, 1] * y
        src_y = off[:, 1] + inv[:, 1, 0] * x + inv[:, 1, 1] * y
        glyph = _bilinear(templates, fonts[part] * NUM_CLASSES + labels[part], src_x, src_y)
        # Cut the blurred glyph at `level` with a ramp 0.25 wide, which keeps edges soft.
        strokes = np.clip((glyph - level[part]) * 4 + 0.5, 0, 1)
        strokes = strokes.reshape(-1, IMAGE_SIZE, SUPERSAMPLE, IMAGE_SIZE, SUPERSAMPLE)
        images[part] = strokes.mean(axis=(2, 4))
    images = (1 - blur) * images + blur * _blur(images, radius=1)
    return np.clip(ink * images + noise, 0, 1)


def _random_affines(n, rng):
    """`n` random maps from output pixels to glyph pixels: glyph point = inverse @ pixel + offset.

    Pixels are counted from the image centre. The forward map, glyph to image, stretches,
    shears, rotates and shifts; sampling needs its inverse.
    """
    angle = np.deg2rad(rng.uniform(*ROTATION_DEGREES, n))
    shear = rng.uniform(*SHEAR, n)
    height = rng.uniform(*SCALE, n)
    width = height * rng.uniform(*ASPECT, n)
    shift = rng.uniform(*SHIFT_PIXELS, (n, 2)) * SUPERSAMPLE
    cos, sin = np.cos(angle), np.sin(angle)
    forward = np.empty((n, 2, 2))
    forward[:, 0, 0] = cos * width
    forward[:, 0, 1] = (cos * shear - sin) * height
    forward[:, 1, 0] = sin * width
    forward[:, 1, 1] = (sin * shear + cos) * height
    inverse = np.linalg.inv(forward)
    offset = (TEMPLATE_SIZE - 1) / 2 - np.einsum("nij,nj->ni", inverse, shift)
    return inverse.astype(np.float32), offset.astype(np.float32)


def _bilinear(templates, which, x, y):
    """Sample templates[which[i]] at the points (x[i], y[i]); points outside read as zero."""
    size = templates.shape[-1]
    # Templates have a blank border, so clamping into it reads zero outside the glyph.
    x = np.clip(x, 0, size - 1.001)
    y = np.clip(y, 0, size - 1.001)
    x0, y0 = x.astype(np.int32), y.astype(np.int32)
    fx, fy = x - x0, y - y0
    flat = templates.reshape(-1)
    index = (which.astype(np.int32) * (size * size))[:, None, None] + y0 * size + x0
    top = flat[index] * (1 - fx) + flat[index + 1] * fx
    bottom = flat[index + size] * (1 - fx) + flat[index + size + 1] * fx
    return top * (1 - fy) + bottom * fy


def _to_float(images):
    """uint8 (N, H, W) to float32 in [0, 1] with a channel axis, (N, H, W, 1)."""
    return np.divide(images, 255, dtype=np.float32)[..., None]
