"""Shared test fixtures: one torch thread, paths to the shared data."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


def _find_shared_data() -> Path:
    env = os.environ.get("SEQADV_SHARED_DATA")
    if env:
        return Path(env)
    for candidate in (REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "data"


SHARED_DATA = _find_shared_data()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _kernel_cache(tmp_path_factory):
    """Kernel measurements go to a cache of the test session, never to ~/.cache."""
    old = os.environ.get("SEQADV_CACHE_DIR")
    os.environ["SEQADV_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernel-cache"))
    yield
    if old is None:
        os.environ.pop("SEQADV_CACHE_DIR", None)
    else:
        os.environ["SEQADV_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def _plain_kernels_between_tests():
    """A trainer activates its run's kernel plan for the process; each test starts plain."""
    from seqadv.models import kernels

    yield
    kernels.set_plan(kernels.KernelPlan.plain())


@pytest.fixture(autouse=True)
def restore_logging():
    """main() configures the "seqadv" logger; give later tests the logger they expect."""
    logger = logging.getLogger("seqadv")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved
