"""The herd operator: LoadTests in, runner Jobs out, merged results and verdicts in status.

Everything here except ``handlers`` is pure: builders turn objects into manifests,
status functions turn observed Jobs and pods into status, and ``scheduling`` decides
when runs start and go. The kopf handlers are a thin edge that reads, calls these
functions and writes.
"""
