"""The Autobahn-compatible mode: `wsreplay fuzzingserver`.

A library's existing Autobahn client driver runs against wsreplay unchanged:
the front (`front`) answers Autobahn's fuzzingserver URLs and hands each
`/runCase` connection to the C server; `cases` numbers the cases as
Autobahn would for the same spec; `session` plays, judges (from the wire,
`judging.echo`) and keeps every case's verdict; `reports` writes them in
wsreplay's own form and in Autobahn's layout.
"""
