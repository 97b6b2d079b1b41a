"""Upper bounds of every number a user can give, in one place (stated in docs/limits.md).

Each bound sits far above any real use and far below what would exhaust a machine, so a
typo (`1e20`) or a hostile value is refused with a message naming the option before
anything is allocated. The CLI's numeric options and the run configuration's numeric keys
both take their ranges from here; tests/test_cli_fuzz.py checks that every numeric CLI
option has a finite range.
"""

from __future__ import annotations

MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 65_536
MAX_SEED = 2**32 - 1
MAX_BOOTSTRAP = 1_000_000
MAX_FOLDS = 100
MAX_REPEATS = 1_000
MAX_WORKERS = 1_024
MAX_RECORDS = 10_000_000  # record counts: a training cap, the synthetic demo's sizes
MAX_DEMO_RECORDS = 100_000
# Sampling rates and frequencies in Hz: clinical ECGs are 100-2,000 Hz, research ones 10 kHz.
MAX_FS = 20_000.0
MAX_DURATION_S = 3_600.0  # one hour, as the readers' default sample cap
# The longest signal preprocessing may produce (per lead): one hour at 1 kHz. Resampling
# and padding refuse a record that would come out longer, before allocating it.
MAX_PREPARED_SAMPLES = 3_600_000
MAX_INPUT_LEN = 1_000_000  # window length in samples (`models list --input-len`)
MAX_LEADS = 64
MAX_CLASSES = 10_000
MAX_CALIBRATION_SAMPLES = 100_000
MAX_MCU_KB = 1_048_576.0  # a microcontroller's RAM or flash budget: up to 1 GiB
