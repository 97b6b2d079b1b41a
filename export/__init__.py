"""TFLite export and verification (installed as keras_ecgpe.export)."""
