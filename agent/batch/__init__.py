"""Batch analysis of many recordings (``cardioagent batch``), on one machine or a Ray cluster.

- ``sources``: what to analyse — a folder, a glob or a manifest (CSV/Parquet) -> ``RecordTask`` list, with a
  note for every file that is not a recording (label tables, README, orphan data files);
- ``schema``: ``RecordTask``, the ``BatchRow`` of one recording and its fixed Parquet schema;
- ``record``: one task -> ``BatchRow`` (the same ``analyze_recording`` path as ``cardioagent analyze``);
  any failure becomes an error row with its kind, never an exception;
- ``engines``: where the work runs — in this process, a local process pool, or Ray actors; a worker loads
  what it needs (models, caches) once, then serves many items. ``cardioagent eval --engine`` uses them too;
- ``writer``: Parquet part files written as rows finish (atomic rename), the finished keys for a resumed
  run, and the merged ``results.parquet``;
- ``runner``: a run — skip the finished tasks, map the analyzer on an engine, write rows as they come;
- ``summary``: counts, failures by kind, quality and statement prevalence;
- ``commands``: the ``cardioagent batch`` sub-command.

See docs/scale.md.
"""
