"""The trust boundary: everything that runs submitted code, and what may come back from it.

- `launch`: starts a bubblewrap sandbox (no course files, no network, its own PID namespace)
  whose first process serves runs, and says how a run ended (`Finished`).
- `warm`: runs served by such a sandbox, each in new namespaces, new private folders, a cgroup
  of its own and an unprivileged user (`WarmSandbox`, or `ColdRun` for a sandbox of one run).
- `cgroups`: the cgroups that count a run's memory, processes and CPU as a whole.
- `seccomp`: the filter that keeps the student's code off the parts of the kernel a notebook
  never needs.
- `protocol`: the only data that crosses back (JSON lines of cell outputs, `.npz` arrays),
  read with size, depth, type and MIME limits. Nothing is imported or unpickled.
- `inside/`: the programs that run in the sandbox, next to the student's code. They import
  nothing of the kit, which is not mounted there.
"""
