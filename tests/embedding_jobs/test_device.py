"""Device choice, training precision and the machine facts a benchmark records."""

from __future__ import annotations

import pytest
import torch

from embedding_jobs.device import describe_device, machine_facts, precision_context, resolve_device
from gfm.errors import StageError


def test_auto_takes_cuda_only_where_it_exists_and_bad_strings_are_refused() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(StageError, match="not a torch device"):
        resolve_device("gpu please")
    if not torch.cuda.is_available():
        with pytest.raises(StageError, match="CUDA is not available"):
            resolve_device("cuda")


def test_precision_names_are_checked() -> None:
    with precision_context(torch.device("cpu"), "bf16"):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    with precision_context(torch.device("cpu"), "fp32"):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(StageError, match="unknown training precision"):
        precision_context(torch.device("cpu"), "fp8")


def test_machine_facts_follow_the_thread_count() -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        facts = machine_facts()
    finally:
        torch.set_num_threads(before)
    assert facts["torch_threads"] == 1 and facts["torch"] == torch.__version__
    assert facts["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert describe_device(torch.device("cpu")) == f"cpu ({before} threads)"
