"""`ecgpe-keras study` that trains (slow): a study killed with SIGKILL resumes without
redoing its finished cell (continued with --workers 2), and one Optuna search in SQLite is
shared by two processes, survives a killed process and hands its best trial to the fold."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")
optuna = pytest.importorskip("optuna")

from fixtures import toy_cache  # noqa: E402

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-c", "from keras_ecgpe.cli.main import main; main()"]
TIMEOUT_S = 900


def _pe_cache(path):
    splits = {"train": 32, "validation": 16, "test": 12}
    return toy_cache(path, n_classes=1, label_names=["PE"], seed=4, splits=splits)


def _wait_for(condition, child, what):
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert child.poll() is None, f"the process ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {TIMEOUT_S} s"
        time.sleep(0.5)


def _snapshot(folder: Path) -> dict:
    files = [folder / "cell.json", *sorted(folder.glob("cv/*/heldout.json"))]
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


@pytest.mark.slow
def test_a_killed_study_resumes_without_redoing_finished_cells(tmp_path):
    cache = _pe_cache(tmp_path / "pe")
    spec = tmp_path / "study.yaml"
    spec.write_text(
        f"""
name: kill-test
data: {{cache: {cache.path}}}
folds: {{k: 2}}
settings:
  training.epochs: 1
  training.batch_size: 8
  evaluation.bootstrap: 0
  model.overrides.width: 4
axes:
  model: [resnet1d18, xresnet1d18]
"""
    )
    out = tmp_path / "out"
    command = [*CLI, "study", str(spec), "--out", str(out)]
    with open(tmp_path / "first.err", "w") as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _wait_for(lambda: any(out.glob("cells/*/cell.json")), child, "finished cell")
        child.kill()
        child.wait()
    (done,) = [p.parent for p in out.glob("cells/*/cell.json")]
    before = _snapshot(done)
    assert "resnet1d18" in done.name and not (out / "study_results.json").exists()
    again = subprocess.run(
        [*command, "--workers", "2"], capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert _snapshot(done) == before  # the finished cell was not touched
    progress = again.stderr
    assert "2 cells x 1 x 2 folds; 1 finished earlier (skipped); 2 worker(s)" in progress
    assert "started: model=resnet1d18" not in progress
    assert "[cell 2/2] started: model=xresnet1d18" in progress
    assert "[cell 2/2] finished: model=xresnet1d18: fold-mean AUROC" in progress
    assert "2/2 cells done" in progress
    result = json.loads((out / "study_results.json").read_text())
    assert [r["label"] for r in result["rows"]] == ["model=resnet1d18", "model=xresnet1d18"]
    assert result["synthetic"] and result["rows"][1]["difference"]["n_folds"] == 2
    table = (out / "study_table.csv").read_text().splitlines()
    assert len(table) == 3 and table[0].startswith("cell,label,reference")
    for name in ("forest.png", "report.html", "report.txt", "study_summary.txt"):
        assert (out / name).is_file(), name
    assert "SYNTHETIC" in (out / "study_summary.txt").read_text()
    assert "| model=xresnet1d18 |" in again.stdout and "Holm" in again.stdout


def _finished(study):
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study.get_trials(states=states)


@pytest.mark.slow
def test_one_sqlite_search_is_shared_by_two_processes_and_resumes_after_a_kill(tmp_path):
    import search_worker
    from keras_ecgpe.studies.grid_search import SEARCH_FILE, fold_trainer, open_storage
    from keras_ecgpe.studies.grid_spec import SearchSpec

    cache = _pe_cache(tmp_path / "pe")
    url = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    root = tmp_path / "searches"
    worker = [sys.executable, str(HERE / "search_worker.py"), str(cache.path), url, str(root)]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    logs = [open(tmp_path / f"w{i}.err", "w") for i in range(3)]  # noqa: SIM115
    try:
        pair = [
            subprocess.Popen([*worker, "3"], stdout=subprocess.DEVNULL, stderr=log, env=env)
            for log in logs[:2]
        ]
        for child in pair:
            assert child.wait(timeout=TIMEOUT_S) == 0, (tmp_path / "w0.err").read_text()[-2000:]
        storage = open_storage(url, 1)
        study = optuna.load_study(study_name=search_worker.STUDY, storage=storage)
        shared = _finished(study)
        # Each process stops once the storage holds 3 finished trials (one may be in flight).
        assert 3 <= len(shared) <= 4
        assert len({t.user_attrs["worker"] for t in shared}) == 2
        assert len({t.user_attrs["run_dir"] for t in study.trials}) == len(study.trials)
        killed = subprocess.Popen(
            [*worker, "9"], stdout=subprocess.DEVNULL, stderr=logs[2], env=env
        )
        running = optuna.trial.TrialState.RUNNING
        _wait_for(lambda: study.get_trials(states=(running,)), killed, "trial of the third process")
        killed.kill()
        killed.wait()
    finally:
        for log in logs:
            log.close()
    kept = {t.number: t.state for t in _finished(study)}
    (zombie,) = study.get_trials(states=(running,))
    target = len(kept) + 1
    search = SearchSpec(trials=target, **search_worker.SEARCH)
    train_fold = fold_trainer(search, url, "test/cell", root)
    run_dir = tmp_path / "cv" / "r1-f1"
    config = search_worker.config(str(cache.path))
    train_fold(
        config, run_dir, search_worker.first_fold(str(cache.path)), resume=True, progress=False
    )
    study = optuna.load_study(study_name=search_worker.STUDY, storage=open_storage(url, 1))
    after = {t.number: t.state for t in _finished(study)}
    assert len(after) == target and all(after[n] == s for n, s in kept.items())
    assert study.trials[zombie.number].state == optuna.trial.TrialState.FAIL
    chosen = json.loads((run_dir / SEARCH_FILE).read_text())
    best = max(
        (t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE),
        key=lambda t: t.value,
    )
    assert chosen["best_trial"] == best.number and chosen["best_params"] == best.params
    assert (run_dir / "run.json").is_file() and len(chosen["workers"]) == 3
    assert chosen["trials"]["FAIL"] >= 1
