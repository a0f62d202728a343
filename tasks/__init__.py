"""Reusable Prefect tasks and the small libraries they wrap, one concern per module.

Importing the package captures cardflow's library logs in flow-run logs (:mod:`tasks.run_logs`).
"""

from tasks.run_logs import capture_library_logs

capture_library_logs()
