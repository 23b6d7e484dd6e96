def build_cnn(input_shape, num_classes):
    """A small conv net for images of any size >= 8 x 8 with 1 or 3 channels.

    Two conv blocks, plus a third for images of 32 x 32 and larger, each halving the
    resolution; dropout; a softmax over `num_classes`. Initial weights come from Keras's
    global seed: call `keras.utils.set_random_seed(seed)` before building to get the same
    weights every time, so optimizers compared on it start from the same point.
    """
    # Imported here, not at the top: `import models` stays cheap for the CLI's --help.
    import keras
    from keras import layers

    height, width, channels = input_shape
    if min(height, width) < 8 or channels not in (1, 3):
        raise ValueError(
            "build_cnn needs images of at least 8 x 8 pixels with 1 or 3 channels; "
            f"received input_shape={tuple(input_shape)}"
        )
    if num_classes < 2:
        raise ValueError(f"build_cnn needs at least 2 classes; received num_classes={num_classes}")

    filters = [16, 32] + ([64] if min(height, width) >= 32 else [])
    conv_blocks = []
    for n in filters:
        conv_blocks += [
            layers.Conv2D(n, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
        ]
    # Flatten keeps where a feature was seen, which small images need; on large images it
    # would make the dense layer huge, so average over positions instead.
    side = 2 ** len(filters)
    flat_size = (height // side) * (width // side) * filters[-1]
    to_vector = layers.Flatten() if flat_size <= 4096 else layers.GlobalAveragePooling2D()

    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            *conv_blocks,
            to_vector,
            layers.Dropout(0.3),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn",
    )
