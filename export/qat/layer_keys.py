"""The Keras 3 layer classes the tf_keras twin (`twin.py`) translates, and how.

A table apart from `twin.py`, which imports tf_keras: the parent process and the tests read
it to tell whether a model's layers can all be translated without importing tf_keras.
"""

# Keras 3 class name -> config keys the tf_keras class takes with the same meaning.
# Initialisers and regularisers are left out: weights are copied, never initialised.
LAYER_KEYS = {
    "Conv1D": (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "dilation_rate",
        "groups",
        "activation",
        "use_bias",
    ),
    "Dense": ("units", "activation", "use_bias"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "Activation": ("activation",),
    "Add": (),
    "Concatenate": ("axis",),
    "Dropout": ("rate",),
    "MaxPooling1D": ("pool_size", "strides", "padding"),
    "AveragePooling1D": ("pool_size", "strides", "padding"),
    "GlobalAveragePooling1D": ("keepdims",),
    "GlobalMaxPooling1D": ("keepdims",),
}
