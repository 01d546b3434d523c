"""Scripted evaluation of the agent on question-answer benchmarks in the ECG-QA format.

- ``benchmark``: items (ECG-QA fields, plus ``files`` and ``options`` extensions), their recordings and
  allowed answers;
- ``parser``: the reply's ``**Answer:**`` line -> allowed options, never guessed;
- ``scoring``: ECG-QA's exact match on answer sets, accuracy per type, the majority-answer baseline;
- ``runner``: runs ``Assistant.ask`` per question (fresh memory, thread pool, resumable JSONL trace);
- ``report``: ``report.json`` and ``report.md`` with figures; ``build``: a benchmark from labelled WFDB records;
- ``commands``: ``cardioagent eval`` and ``cardioagent bench build|compare``.

See docs/evaluation.md.
"""
