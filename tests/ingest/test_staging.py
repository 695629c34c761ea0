"""Staging folders are removed on every exit (issue 23): a failure, Ctrl-C, SIGTERM; a killed
ingest's are removed by the next ingest into the same place, and a running one's are left."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from federate.adapters import registry
from federate.ingest.run import ingest
from federate.privacy.pseudonym import load_key
from federate.synth import SynthResult
from federate.synth import run as synth_run


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """Italy with enough patients that an ingest stages for some seconds."""
    return synth_run(tmp_path_factory.mktemp("italy") / "out", seed=3, counts={"italy": 600})


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def started(trial: SynthResult, out: Path) -> subprocess.Popen[str]:
    """An ingest in a child process, returned once its staging folder exists."""
    args = ["ingest", "italy", str(trial.export_dir("italy")), "--out", str(out)]
    child = subprocess.Popen(
        [sys.executable, "-m", "federate", *args, "--key-file", str(trial.keys["italy"])],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(n.startswith(".bundle.staging-") for n in hidden(out.parent)):
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "no staging folder appeared"
        time.sleep(0.005)
    return child


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_ingest_removes_its_staging_folders(
    trial: SynthResult, tmp_path: Path, sig: signal.Signals
) -> None:
    child = started(trial, tmp_path / "bundle")
    child.send_signal(sig)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err  # interrupted, not finished
    assert "Traceback" not in err
    assert hidden(tmp_path) == [] and not (tmp_path / "bundle").exists()


def test_a_killed_ingests_staging_folders_go_with_the_next_ingest(
    trial: SynthResult, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    child = started(trial, out)
    child.kill()
    child.communicate(timeout=120)
    left = hidden(tmp_path)
    assert any(n.startswith(".bundle.staging-") for n in left), left
    key = load_key("italy", trial.keys["italy"])
    ingest(registry.adapter("italy"), trial.export_dir("italy"), out, key)
    assert hidden(tmp_path) == []
    assert (out / "manifest.json").is_file()


def test_a_running_ingests_staging_folder_is_left_alone(trial: SynthResult, tmp_path: Path) -> None:
    """A folder named for a process that is still running (another ingest into the same place)
    is not the next run's to remove; one named for a finished process is."""
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    try:
        live = tmp_path / f".bundle.staging-{running.pid}-0123abcd"
        dead = tmp_path / f".bundle.staging-{finished.pid}-4567cdef"
        for folder in (live, dead):
            (folder / "tables").mkdir(parents=True)
        key = load_key("italy", trial.keys["italy"])
        ingest(registry.adapter("italy"), trial.export_dir("italy"), tmp_path / "bundle", key)
        assert hidden(tmp_path) == [live.name]
    finally:
        running.kill()
        running.wait()
