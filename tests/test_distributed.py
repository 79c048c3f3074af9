"""The Trainer under torch.distributed: 2 CPU processes with the gloo backend, as torchrun would start them."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from conftest import TINY
from xgan.config import load_config
from xgan.distributed import leave
from xgan.trainer import Trainer

WORLD = 2


def config(run_dir, *overrides):
    return load_config("digits", [*TINY, "train.device=cpu", f"run_dir={run_dir}", *overrides])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_rank(rank: int, port: int, job, args) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    job(rank, *args)
    leave()
    # The job is done and its files written; skip the interpreter's teardown, where gloo's threads still abort a
    # finished rank now and then (SIGABRT, seen in about 1 of 10 CI-sized runs) whatever the job did.
    os._exit(0)


def launch(job, *args) -> None:
    mp.spawn(as_rank, args=(free_port(), job, args), nprocs=WORLD, join=True)


def one_step_gradients(rank: int, run_dir, out) -> None:
    trainer = Trainer(config(run_dir))
    trainer.train_step(trainer.batch(0))
    grads = {name: p.grad for name, p in trainer.model.named_parameters() if p.grad is not None}
    torch.save(grads, f"{out}/rank{rank}.pt")


def test_two_processes_compute_the_gradients_of_one_process_on_the_whole_batch(tmp_path):
    launch(one_step_gradients, tmp_path / "ddp", tmp_path)
    single = Trainer(config(tmp_path / "single"))
    assert single.world.size == 1
    single.train_step(single.batch(0))
    expected = {name: p.grad for name, p in single.model.named_parameters() if p.grad is not None}
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert got.keys() == expected.keys() and len(got) > 10
        bad = {name: float((got[name] - grad).abs().max() / grad.abs().max().clamp_min(1e-12))
               for name, grad in expected.items() if not torch.allclose(got[name], grad, rtol=1e-4, atol=1e-6)}
        assert not bad, f"rank {rank}: relative max differences {bad}"


def train(rank: int, run_dir, steps: int, resume: bool) -> None:
    cfg = config(run_dir, f"train.steps={steps}")
    Trainer(cfg, resume=run_dir if resume else None).fit()


def test_a_two_process_run_resumes_from_its_checkpoint_exactly(tmp_path):
    launch(train, tmp_path / "whole", 4, False)
    launch(train, tmp_path / "halves", 2, False)
    launch(train, tmp_path / "halves", 4, True)
    whole = load_file(tmp_path / "whole" / "checkpoints" / "step_00000004" / "model.safetensors")
    resumed = load_file(tmp_path / "halves" / "checkpoints" / "step_00000004" / "model.safetensors")
    for name, tensor in whole.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=0, msg=name)


def test_the_global_batch_must_divide_by_the_processes():
    from xgan.data import ImageSet
    from xgan.trainer import StepBatches

    images = ImageSet(torch.zeros(20, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="divide"):
        StepBatches(images, 9, 0, rank=0, world_size=2)
    shards = [StepBatches(images, 8, 0, r, 2).indices(0)[r::2] for r in range(2)]
    assert sorted(torch.cat(shards).tolist()) == sorted(StepBatches(images, 8, 0).indices(0).tolist())


def poisoned_on_rank_1(rank: int, run_dir, out) -> None:
    trainer = Trainer(config(run_dir, "train.steps=3", "train.on_nonfinite=skip"))
    original = trainer.model.losses

    def losses(phase, batch):
        terms = original(phase, batch)
        if rank == 1 and phase == "autoencoder" and trainer.step == 1:
            weight, value = terms["rec"]
            terms["rec"] = (weight, value * float("inf"))
        return terms

    trainer.model.losses = losses
    trainer.fit()
    torch.save({"skipped": trainer.skipped_steps, "weights": trainer.model.state_dict()}, f"{out}/rank{rank}.pt")


def test_a_nonfinite_loss_on_one_rank_makes_every_rank_skip_the_same_update(tmp_path):
    launch(poisoned_on_rank_1, tmp_path / "run", tmp_path)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
    assert [r["skipped"] for r in ranks] == [1, 1]
    for name, tensor in ranks[0]["weights"].items():
        if name.startswith("pool"):
            continue  # each rank keeps its own history of translations
        assert torch.isfinite(tensor.float()).all(), name
        torch.testing.assert_close(ranks[1]["weights"][name], tensor, rtol=0, atol=0, msg=name)


def signalled_on_rank_1(rank: int, run_dir, out) -> None:
    import signal

    trainer = Trainer(config(run_dir, "train.steps=50", "train.checkpoint_every=100"))
    original = trainer.train_step

    def step(*batch):
        logged = original(*batch)
        if rank == 1 and trainer.step == 1:  # during the second step, on one rank only
            os.kill(os.getpid(), signal.SIGTERM)
        return logged

    trainer.train_step = step
    saved = trainer.fit()
    torch.save({"step": trainer.step, "interrupted": trainer.interrupted, "saved": str(saved)}, f"{out}/rank{rank}.pt")


def test_a_signal_to_one_rank_stops_every_rank_at_the_same_step_with_a_checkpoint(tmp_path):
    launch(signalled_on_rank_1, tmp_path / "run", tmp_path)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
    assert [r["step"] for r in ranks] == [2, 2]
    assert ranks[0]["saved"].endswith("step_00000002")
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step_00000002"
