"""The `ecgpe-keras` command line (installed as keras_ecgpe.cli)."""
