"""The Autobahn-compatible mode: a fuzzingserver that drivers written for Autobahn talk to."""
