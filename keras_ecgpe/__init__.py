"""keras_ecgpe: pulmonary embolism detection from 12-lead ECGs with Keras 3.

The package never imports TensorFlow at import time, so command-line help and the
data readers stay fast; tf.data and model code import it where they need it.
"""

__version__ = "0.1.0"
