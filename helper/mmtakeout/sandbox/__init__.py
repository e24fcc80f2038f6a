"""A faithful stand-in for a Mattermost server (API v4), for tests, the demo and the benchmark.

* `world.World` holds all data and applies the server's rules when tests change it;
* `generator.generate_world` builds a seeded, realistic world (a few hundred to a million posts);
* `server` serves a world over loopback HTTP (`running_sandbox`, `start_sandbox_thread`) with the
  real server's quirks, optional latency, rate limiting and fault injection;
* `schemas` and `openapi_check` hold the strict response schemas and the request contract check.
"""
