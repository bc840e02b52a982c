"""Judging what a client did: the verdict vocabulary, the rules, the evaluation.

- `verdicts`: the names, rank, passing sets and display order, defined once.
- `rules`: RFC 6455's rules for a client, applied to every byte it sent.
- `evaluate`: a scenario's expectations and the rules → one verdict with a reason.
- `crashes`: a client process killed by its library, told apart from a broken adapter.
- `echo`: echo mode (an Autobahn driver as the client): a scenario's plan from the wire
  alone, and its verdict from the server's transcript.
"""
