"""The trust boundary: everything that runs submitted code, and what may come back from it.

- `launch`: starts a program in a bubblewrap sandbox (no course files, no network, its own
  PID namespace, an unprivileged user, resource limits) and kills it at its deadline.
- `protocol`: the only data that crosses back (JSON lines of cell outputs, `.npz` arrays),
  read with size, depth, type and MIME limits. Nothing is imported or unpickled.
- `inside/`: the programs that run in the sandbox, next to the student's code. They import
  nothing of the kit, which is not mounted there.
"""
