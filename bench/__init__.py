"""The benchmark of issue 7 (``make bench``): a generated data set loaded with COPY, then
ingestion, the daily job, the monthly close, worker memory and page latency measured side by
side with what PostgreSQL itself does with the same rows. See README.md, "Benchmark"."""
