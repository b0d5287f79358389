"""The LoadTest API: spec models, durations, thresholds and the report schema."""

from herd.api.loading import SpecError, load_loadtest, parse_loadtest
from herd.api.spec import LoadSpec, LoadTest, LoadTestSpec, TargetSpec, UploadSpec

__all__ = [
    "LoadSpec",
    "LoadTest",
    "LoadTestSpec",
    "SpecError",
    "TargetSpec",
    "UploadSpec",
    "load_loadtest",
    "parse_loadtest",
]
