import pytest
from hypothesis import HealthCheck, settings

from pipelines.datasets import dataset_path

# Geometry kernels compile on first use; do not count that against hypothesis' deadline.
# The default profile is derandomised so that a run (CI's included) is reproducible; the
# `explore` profile draws fresh examples each run: `pytest --hypothesis-profile=explore`.
settings.register_profile("default", deadline=None, max_examples=50, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


@pytest.fixture
def dataset():
    """`dataset(name)` -> folder of a benchmark excerpt, skipping the test when it is missing."""
    def get(name):
        path = dataset_path(name)
        if path is None:
            pytest.skip(f"benchmark data '{name}' not found (set MVDEPTH_DATA or provide ../shared/data)")
        return path
    return get
