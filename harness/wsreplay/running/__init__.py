"""Running a plan: the scenario server, one adapter process per client, the jobs between them.

- `runner`: a run from start to report — server, adapters, jobs, verdicts, outputs.
- `server`: the C scenario server as a child process (port, transcripts, control).
- `adapterproc`: one adapter process per client spec, JSON lines in and out.
- `linereader`: reading a child's stdout line by line with a deadline.
- `tlscerts`: the throw-away CA and server certificate of a wss:// run.
- `shards`: which (client, scenario) pairs `--shard K/N` runs.
"""
