"""One runner on several cores: ``herd run --processes N|auto``.

A CPython event loop uses one core, so a runner that may use more runs as
several processes, each taking a part of the runner's share of the load, and
merges their results exactly into one report.

    cpus     how many cores this process may use (affinity, cgroup quota, pod request)
    choice   how many processes to run for a load, and why
    split    what each process runs: its share and its part of per-runner limits
    state    a run's statistics as JSON, and many of them merged into one recorder
    merge    the processes' results -> the runner's report
    protocol the parent <-> process messages (JSON lines on stdin/stdout)
    process  the process side: run a part, report ready, release on cue, write results
    parent   the runner side: start the processes, release them together, merge
"""
