"""Faults as they happen to real runs: a real signal sent to a real `lightning fit` subprocess, SIGKILL between
two validations (and the loader workers it leaves), a 2-process DDP run, a truncated checkpoint, a disk that fills
up during a save."""
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from .fault_helpers import read_keys
from .test_training_jobs import CPU_CONFIG, CONFIG, cli, cli_command, cli_environment, sources

NO_WANDB = {"WANDB_MODE": "disabled"}


def callbacks(*items):
    """``--trainer.callbacks+=...`` options that add callbacks to the config's defaults."""
    return [f"--trainer.callbacks+={json.dumps(dict(class_path=path, init_args=args))}" for path, args in items]


def keys_callback(path):
    return ("tests.fault_helpers.TrainedKeys", dict(path=str(path)))


def launch(run_dir, *extra, env=None, subcommand="fit", train=None, config=CONFIG):
    return subprocess.Popen(cli_command(subcommand, run_dir, *extra, train=train, config=config), cwd=run_dir,
                            env=cli_environment(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(paths, process, timeout=180):
    """Wait until every file in ``paths`` exists (a PauseAt marker); fail with the output if the run ends first."""
    deadline = time.monotonic() + timeout
    while not all(Path(p).exists() for p in paths):
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the run ended (exit {process.returncode}) before pausing:\n{err[-4000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the run did not reach its pause")
        time.sleep(0.05)


def finish(process, timeout=180):
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the run did not end after the signal:\n{err[-4000:]}")
    return process.returncode, out, err


def running(pid):
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children(pid):
    """The processes whose parent is ``pid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def still_running(pids, timeout=60):
    """Those of ``pids`` still running after up to ``timeout`` seconds; they are killed, so that none outlives the
    test."""
    deadline = time.monotonic() + timeout
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if running(pid)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):  # it may end meanwhile
            os.kill(pid, signal.SIGKILL)
    return left


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=key)


# the run of these tests: 64 lines of batch 4 (16 steps an epoch, width pools of 8 batches), a validation every 5
# steps whose word accuracy stays 0 (a tiny untrained network): the best checkpoint is never replaced after step 5
RUN = ("--trainer.val_check_interval=5", "--trainer.limit_val_batches=2", "--trainer.deterministic=true",
       "--trainer.logger=false", "--trainer.check_val_every_n_epoch=null")
STEPS = 20  # into the second epoch, whose lines and augmentations differ from the first's


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The run never interrupted, ``STEPS`` steps: the keys each step trained, and its folder."""
    folder = tmp_path_factory.mktemp("straight")
    cli("fit", folder, *RUN, f"--trainer.max_steps={STEPS}", *callbacks(keys_callback(folder / "keys.jsonl")),
        env=NO_WANDB)
    return folder


def trains_as_straight(straight, keys_file, last, first_step):
    """From ``first_step`` on, a resumed run trained the straight run's batches and ended with its weights."""
    straight_keys, resumed_keys = read_keys(straight / "keys.jsonl"), read_keys(keys_file)
    assert sorted(resumed_keys) == list(range(STEPS))
    for step in range(first_step, STEPS):
        assert resumed_keys[step] == straight_keys[step], step
    same_weights(load(straight / "version_0" / "checkpoints" / "last.ckpt")["state_dict"], load(last)["state_dict"])


def test_sigkill_between_validations_resumes_at_the_data_position(tmp_path, straight):
    """Killed at step 12, the run resumes from the step-10 ``last.ckpt`` written by the validation there (its score
    no better than step 5's) and trains the very batches the uninterrupted run trained from step 10 on, into the
    second epoch: the same keys at every step and the same weights at the end."""
    marker, keys = tmp_path / "paused", tmp_path / "keys.jsonl"
    process = launch(tmp_path, *RUN, f"--trainer.max_steps={STEPS}", *callbacks(
        keys_callback(keys), ("tests.fault_helpers.PauseAt", dict(step=12, marker=str(marker)))), env=NO_WANDB)
    wait_for([f"{marker}.rank0"], process)
    process.kill()  # SIGKILL: nothing runs after it
    process.wait()
    last = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    state = load(last)
    assert state["global_step"] == 10  # the validation at step 10 refreshed it, though its score did not improve
    assert state["TextRecognitionDataModule"]["samples"] + state["TextRecognitionDataModule"]["pool_batches"] * 4 \
        == 10 * 4  # 10 batches of 4 trained: one pool of 8 batches, then 2 of the next
    resumed = cli("fit", tmp_path, *RUN, f"--trainer.max_steps={STEPS}", "--ckpt_path=auto",
                  *callbacks(keys_callback(keys)), env=NO_WANDB)
    assert f"resuming {last}" in resumed.stderr + resumed.stdout
    trains_as_straight(straight, keys, last, 10)


def test_sigterm_saves_the_step_reached_and_exits_143(tmp_path, straight):
    """``docker stop``: SIGTERM at step 7, between two validations. The run saves ``last.ckpt`` at step 7 with its
    data position, exits 143, and ``--ckpt_path last`` goes on from there to the same weights as a run never
    stopped. W&B logs as configured (offline, without credentials)."""
    marker, keys = tmp_path / "paused", tmp_path / "keys.jsonl"
    env = {"HOME": str(tmp_path), "WANDB_API_KEY": "", "NETRC": str(tmp_path / "none"), "WANDB_MODE": ""}
    process = launch(tmp_path, *[a for a in RUN if a != "--trainer.logger=false"], f"--trainer.max_steps={STEPS}",
                     *callbacks(keys_callback(keys), ("tests.fault_helpers.PauseAt", dict(step=7, marker=str(marker)))),
                     env=env)
    wait_for([f"{marker}.rank0"], process)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # the signal lands while the run is held at step 7
    os.remove(f"{marker}.rank0")
    code, out, err = finish(process)
    assert code == 143, err[-3000:]
    assert "stopped by SIGTERM at step 7" in err
    last = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    state = load(last)
    assert state["global_step"] == 7
    assert state["TextRecognitionDataModule"]["pool_batches"] == 7
    assert not list((tmp_path / "version_0").glob("run.lock"))  # released on the way out
    cli("fit", tmp_path, *RUN, f"--trainer.max_steps={STEPS}", "--ckpt_path=last", *callbacks(keys_callback(keys)),
        env=NO_WANDB)
    trains_as_straight(straight, keys, last, 7)


def test_sigterm_to_rank_zero_stops_both_ddp_processes_at_one_step(tmp_path):
    """``docker stop`` signals the main process only. Both DDP processes (the CPU recipe's config) stop after the
    same step, rank 0 saves it, and every process exits."""
    marker = tmp_path / "paused"
    process = launch(tmp_path, *RUN, "--trainer.max_steps=40",
                     *callbacks(("tests.fault_helpers.PauseAt", dict(step=3, marker=str(marker)))), env=NO_WANDB,
                     config=CPU_CONFIG)
    wait_for([f"{marker}.rank0", f"{marker}.rank1"], process)
    child = int(Path(f"{marker}.rank1").read_text())
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    os.remove(f"{marker}.rank0"), os.remove(f"{marker}.rank1")
    code, out, err = finish(process)
    assert code == 143, err[-3000:]
    assert load(tmp_path / "version_0" / "checkpoints" / "last.ckpt")["global_step"] == 3
    assert not still_running([child]), "the rank-1 process was still running a minute after rank 0 stopped"


def test_sigkill_takes_the_loader_workers_along(tmp_path):
    """kill -9 (or the OOM killer) of a run with loader workers, two as in the configs: the workers end with it
    rather than live on under init holding their memory (seen: alive 6 minutes later). Pools of 16 batches of 64
    lines (8 pools an epoch) make each prefetched pool about 45 kB on the pipe to the run, as the four prefetched
    pools of the configs' 512 lines (23 kB each) do: more than its 64 kB, so that a worker blocks at exit flushing
    into the pipe of the dead run."""
    marker = tmp_path / "paused"
    process = launch(tmp_path, *RUN, "--trainer.max_steps=40", "--data.init_args.num_workers=2",
                     "--data.init_args.batch_size=64", "--data.init_args.width_pool=16",
                     *callbacks(("tests.fault_helpers.PauseAt", dict(step=3, marker=str(marker)))), env=NO_WANDB,
                     train=sources(8192, 0))
    wait_for([f"{marker}.rank0"], process)
    workers = children(process.pid)
    assert len(workers) >= 2  # the training loader's (and the validation loader's, persistent too)
    process.kill()
    process.wait()
    assert not still_running(workers)


def test_sigkill_of_a_ddp_run_ends_every_process(tmp_path):
    """kill -9 (the OOM killer) of the main process of the CPU recipe's two DDP processes, each with two loader
    workers, while both train: rank 1 and every worker end with it, rather than wait for rank 0 or live on holding
    their memory."""
    marker = tmp_path / "paused"
    process = launch(tmp_path, *RUN, "--trainer.max_steps=400", "--data.init_args.num_workers=2",
                     *callbacks(("tests.fault_helpers.PauseAt", dict(step=3, marker=str(marker)))), env=NO_WANDB,
                     config=CPU_CONFIG)
    wait_for([f"{marker}.rank0", f"{marker}.rank1"], process)
    rank1 = int(Path(f"{marker}.rank1").read_text())
    processes = {rank1, *children(process.pid), *children(rank1)}  # rank 1 and the loader workers of both
    assert len(processes) >= 5
    os.remove(f"{marker}.rank0"), os.remove(f"{marker}.rank1")  # both train on
    time.sleep(1)
    process.kill()
    process.wait()
    assert not still_running(sorted(processes))


def test_slurm_requeue_signal_saves_at_a_step_and_auto_takes_the_newest(tmp_path, straight):
    """SIGUSR1 under SLURM (``#SBATCH --signal``): an ``hpc_ckpt_1.ckpt`` at the step reached (6, after
    ``last.ckpt`` at step 5), with its data position, and ``scontrol requeue <job>``; training goes on. Killed at step
    8, ``--ckpt_path auto`` resumes from the hpc checkpoint, the newest, and trains what an unbroken run trains."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'scontrol.log'}\n")
    (bin_dir / "scontrol").chmod(0o755)
    run_dir, marker, keys = tmp_path / "run", tmp_path / "paused", tmp_path / "keys.jsonl"
    environment = cli_environment(dict(
        NO_WANDB, PATH=f"{bin_dir}:{os.environ['PATH']}", SLURM_NTASKS="1", SLURM_JOB_NAME="ocr",
        SLURM_JOB_ID="4242", SLURM_PROCID="0", SLURM_LOCALID="0", SLURM_NODEID="0", SLURM_NODELIST="localhost",
        SLURM_NTASKS_PER_NODE="1"))
    environment["LIGHTOCR_RUN_DIR"] = str(run_dir)  # as the sbatch script sets it
    command = cli_command("fit", tmp_path, *RUN, f"--trainer.max_steps={STEPS}", "--ckpt_path=auto", *callbacks(
        keys_callback(keys), ("tests.fault_helpers.PauseAt", dict(step=6, marker=str(marker))),
        ("tests.fault_helpers.PauseAt", dict(step=8, marker=str(tmp_path / "killed")))))
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    wait_for([f"{marker}.rank0"], process)
    process.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    os.remove(f"{marker}.rank0")
    wait_for([tmp_path / "killed.rank0"], process)
    process.kill()
    process.wait()
    hpc = load(run_dir / "hpc_ckpt_1.ckpt")
    assert hpc["global_step"] == 6 and hpc["TextRecognitionDataModule"]["pool_batches"] == 6
    assert load(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 5
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    command = [word for word in command if "PauseAt" not in word]
    environment["SLURM_RESTART_COUNT"] = "1"  # the requeued job
    result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming {run_dir / 'hpc_ckpt_1.ckpt'}" in result.stderr + result.stdout
    trains_as_straight(straight, keys, run_dir / "checkpoints" / "last.ckpt", 6)


def copy_of(straight, folder):
    """The straight run's folder, to break and resume without touching the shared one."""
    shutil.copytree(straight / "version_0", folder / "version_0")
    return folder / "version_0" / "checkpoints"


def test_a_truncated_last_checkpoint_is_named_and_the_next_newest_used(tmp_path, straight):
    checkpoints = copy_of(straight, tmp_path)
    last, best = checkpoints / "last.ckpt", checkpoints / "step5-score0.0000.ckpt"
    assert load(best)["global_step"] == 5
    last.write_bytes(last.read_bytes()[:5000])  # what a kill in the middle of a non-atomic copy leaves
    resumed = cli("fit", tmp_path, *RUN, "--trainer.max_steps=7", "--ckpt_path=auto", env=NO_WANDB)
    log = resumed.stderr + resumed.stdout
    assert f"cannot read checkpoint {last}" in log and f"resuming from {best} (step 5)" in log
    assert load(last)["global_step"] == 7


def test_a_full_disk_keeps_the_previous_checkpoint_and_names_the_folder(tmp_path, straight):
    """The file-size limit makes every write past it fail as a full disk does: the save in the resumed run fails
    halfway, and the run stops naming the folder, with last.ckpt still the one from before and no stray file."""
    checkpoints = copy_of(straight, tmp_path)
    last = checkpoints / "last.ckpt"
    before = last.read_bytes()
    limit = len(before) // 2

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(cli_command("fit", tmp_path, *RUN, f"--trainer.max_steps={STEPS + 5}",
                                        "--ckpt_path=last"),
                            cwd=tmp_path, env=cli_environment(NO_WANDB), capture_output=True, text=True,
                            preexec_fn=small_disk, timeout=600)
    assert result.returncode == 1, result.stderr[-3000:]
    # the first save is the step-25 best (the copied run's best lies in another folder, so the score is new here;
    # its value is the training's, which differs between installations)
    folder = re.escape(str(checkpoints))
    assert re.search(rf"cannot write checkpoint step25-score[0-9.]+\.ckpt in {folder}: File too large; nothing was "
                     rf"written\. Free space in {folder}", result.stderr), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert last.read_bytes() == before and load(last)["global_step"] == STEPS
    names = sorted(p.name for p in checkpoints.iterdir())
    assert len(names) == 2 and names[0] == "last.ckpt" and re.fullmatch(r"step5-score[0-9.]+\.ckpt", names[1]), names


def test_ddp_rank_whose_validation_data_is_all_unreadable_does_not_hang(tmp_path):
    """Rank 1 reads none of its validation lines; both ranks still compute the metrics together and finish. The
    word accuracy counts rank 0's 8 lines only, and the 8 unreadable ones are counted as skipped."""
    val = json.dumps([dict(class_path="tests.jobs_helpers.UnreadableOnRank",
                           init_args=dict(size=16, seed=1, max_length=5, font_dirs=[]))])
    counts, metrics = tmp_path / "counts", tmp_path / "metrics.json"
    cli("fit", tmp_path, "--trainer.max_steps=2", "--trainer.val_check_interval=2", "--trainer.strategy=ddp",
        "--trainer.devices=2", "--trainer.accelerator=cpu", "--trainer.logger=false",
        "--trainer.num_sanity_val_steps=0",
        f"--data.init_args.val_sources={val}",
        *callbacks(("tests.fault_helpers.ValidationCounts", dict(folder=str(counts))),
                   ("tests.jobs_helpers.DumpMetrics", dict(path=str(metrics)))),
        env=NO_WANDB, timeout=300)
    rank0, rank1 = (json.loads((counts / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["lines"] == 8 and rank1["lines"] == 0 and rank1["loss_weight"] == 0
    logged = json.loads(metrics.read_text())
    assert logged["data/skipped_val_image"] == 8
    assert logged["val/word_acc"] == pytest.approx(rank0["correct"] / 8)
    assert "val/loss" in logged


def test_run_folder_in_use_is_refused_and_a_dead_holder_taken_over(tmp_path):
    marker = tmp_path / "paused"
    process = launch(tmp_path, *RUN, "--trainer.max_steps=20",
                     *callbacks(("tests.fault_helpers.PauseAt", dict(step=6, marker=str(marker)))), env=NO_WANDB)
    wait_for([f"{marker}.rank0"], process)
    second = cli("fit", tmp_path, *RUN, "--trainer.max_steps=20", "--ckpt_path=last", env=NO_WANDB, check=False)
    assert second.returncode == 1
    assert f"{tmp_path / 'version_0'} is being trained by process {process.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    process.kill()
    process.wait()
    third = cli("fit", tmp_path, *RUN, "--trainer.max_steps=8", "--ckpt_path=last", env=NO_WANDB)
    assert "taking over" in third.stderr
    assert load(tmp_path / "version_0" / "checkpoints" / "last.ckpt")["global_step"] == 8


def test_a_nan_batch_on_one_ddp_process_skips_the_step_on_both(tmp_path):
    """Rank 1's batch of step 2 holds a NaN; rank 0's is fine. Both skip the step together (no hang, no rank
    updating alone), the weights stay equal across ranks, and the step is counted once."""
    weights = tmp_path / "weights"
    cli("fit", tmp_path, "--trainer.max_steps=4", "--trainer.limit_val_batches=0", "--trainer.strategy=ddp",
        "--trainer.devices=2", "--trainer.accelerator=cpu", "--trainer.logger=false",
        *callbacks(("tests.jobs_helpers.DumpRankWeights", dict(folder=str(weights))),
                   ("tests.fault_helpers.PoisonImages", dict(steps=[2], rank=1))), env=NO_WANDB, timeout=300)
    rank0, rank1 = (torch.load(weights / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for key, value in rank0.items():
        assert torch.isfinite(value.float()).all(), key
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(value, rank1[key]), key
    assert load(tmp_path / "version_0" / "checkpoints" / "last.ckpt")["skipped_nonfinite_steps"] == 1


def test_last_checkpoint_every_n_steps_replaces_the_default_one(tmp_path):
    marker = tmp_path / "paused"
    process = launch(tmp_path, "--trainer.val_check_interval=50", "--trainer.check_val_every_n_epoch=null",
                     "--trainer.logger=false", "--trainer.max_steps=20",
                     *callbacks(("lightocr.checkpoints.LastCheckpoint", dict(every_n_train_steps=3)),
                                ("tests.fault_helpers.PauseAt", dict(step=7, marker=str(marker)))), env=NO_WANDB)
    wait_for([f"{marker}.rank0"], process)
    process.kill()
    process.wait()
    state = load(tmp_path / "version_0" / "checkpoints" / "last.ckpt")
    assert state["global_step"] == 6 and state["TextRecognitionDataModule"]["pool_batches"] == 6
    kept = [key for key in state["callbacks"] if key.startswith("LastCheckpoint")]
    assert len(kept) == 1 and state["callbacks"][kept[0]] == dict(every_n_train_steps=3)
