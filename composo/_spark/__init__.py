"""The Spark integration behind `composo.spark`: the driver's checks and quota split
(`_job`, `_quota`), the function each task runs on its executor (`_task`), the accumulators
(`_progress`) and the summary (`_summary`). Needs the spark extra; nothing here is imported by
`import composo`."""
