"""What one batch task is, and the row it produces (one row per recording; nested lists, see docs/scale.md).

The Parquet schema is fixed here, not inferred, so that every part file of a run (and of a resumed run) has
the same column types even when a part holds only error rows (whose lists are empty and numbers null).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import pyarrow as pa


class RecordTask(BaseModel):
    key: str = Field(description="stable id of the task: resumed runs skip keys already written")
    path: str = Field(description="the file to load (a WFDB .hea finds its .dat/.mat beside it)")
    metadata: dict[str, str | None] = Field(default_factory=dict, description="manifest columns, as text")
    sampling_rate_hz: float | None = None


class MeasurementRow(BaseModel):
    analysis: str
    name: str
    quantity: str | None = None
    value: float | None = None
    unit: str = ""
    uncertainty: float | None = None
    channel: str | None = None
    quality: str | None = None


class StatementRow(BaseModel):
    source: str  # "intervals" (interpretation statements) or "rhythm"
    id: str
    name: str
    verdict: str  # present | absent | undetermined
    probability: float | None = None


class AnalysisErrorRow(BaseModel):
    analysis: str
    error: str


class BatchRow(BaseModel):
    key: str  # task key, or "<task key>#<record name>" when one file holds several records
    task_key: str
    source: str
    status: str  # ok | error
    error_kind: str | None = None  # class name: CorruptFileError, HeaderMismatchError, WorkerCrash, ...
    error: str | None = None
    name: str | None = None
    format: str | None = None
    modality: str | None = None
    sampling_rate_hz: float | None = None
    duration_s: float | None = None
    n_channels: int | None = None
    quality: str | None = None  # overall quality of the quality analysis
    quality_flags: list[str] = Field(default_factory=list)  # analysis warnings, per-lead noise found
    measurements: list[MeasurementRow] = Field(default_factory=list)
    statements: list[StatementRow] = Field(default_factory=list)
    device_statements: list[str] = Field(default_factory=list)  # the recording device's own statements
    analysis_errors: list[AnalysisErrorRow] = Field(default_factory=list)
    metadata: str = "{}"  # manifest columns as a JSON object
    seconds: float | None = None  # wall time of the task in its worker
    cpu_s: float | None = (
        None  # CPU time of the task (its worker and any child it waited for): load-independent
    )
    worker: str | None = None  # host:pid
    worker_rss_mb: float | None = None  # peak RSS of that worker process so far
    finished_at: str | None = None


def arrow_schema() -> pa.Schema:
    import pyarrow as pa

    s, f = pa.string(), pa.float64()
    measurement = pa.struct(
        [
            ("analysis", s),
            ("name", s),
            ("quantity", s),
            ("value", f),
            ("unit", s),
            ("uncertainty", f),
            ("channel", s),
            ("quality", s),
        ]
    )
    statement = pa.struct([("source", s), ("id", s), ("name", s), ("verdict", s), ("probability", f)])
    analysis_error = pa.struct([("analysis", s), ("error", s)])
    return pa.schema(
        [
            ("key", s),
            ("task_key", s),
            ("source", s),
            ("status", s),
            ("error_kind", s),
            ("error", s),
            ("name", s),
            ("format", s),
            ("modality", s),
            ("sampling_rate_hz", f),
            ("duration_s", f),
            ("n_channels", pa.int32()),
            ("quality", s),
            ("quality_flags", pa.list_(s)),
            ("measurements", pa.list_(measurement)),
            ("statements", pa.list_(statement)),
            ("device_statements", pa.list_(s)),
            ("analysis_errors", pa.list_(analysis_error)),
            ("metadata", s),
            ("seconds", f),
            ("cpu_s", f),
            ("worker", s),
            ("worker_rss_mb", f),
            ("finished_at", s),
        ]
    )
