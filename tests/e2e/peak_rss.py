"""Runs a command and prints its peak resident memory in KiB, then its user
and system CPU seconds.

A child forked from a large process (pytest with frames in memory) would
report that parent's pages as its own peak, so this small interpreter is
the parent that forks the command."""
import os
import sys

pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, usage.ru_utime, usage.ru_stime)
sys.exit(os.waitstatus_to_exitcode(status))
