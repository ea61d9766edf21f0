"""``python -m tutor_project.serve``: N Daphne workers on one port, and their supervisor.

The supervisor binds one TCP socket per worker, all on the same host and port with
``SO_REUSEPORT``, so the kernel spreads new connections across the workers (with one
shared accepting socket, the first worker to wake takes every connection waiting then,
since Twisted accepts in bursts, and the load spreads unevenly). Each worker is Daphne on
its own socket; it listens only once the application is loaded, so no connection waits
on a worker still importing, and says on a pipe when Daphne serves. The supervisor
forwards SIGTERM and SIGINT, restarts a worker that dies (backing off while it keeps
dying), and replaces the workers together on SIGHUP.

- ``cli``: the command line, and the checks made before anything starts (several
  workers need a turn engine shared between processes, i.e. Redis).
- ``sockets``: the listening address and the per-worker sockets.
- ``supervisor``: the workers' lives: start, readiness, restarts, stop.
- ``worker``: one worker process (Daphne on the socket it was handed).

docs/deployment.md says how to run it in production.
"""
