"""Reading ECG records, dataset sources, preprocessing, the prepared cache and tf.data."""
