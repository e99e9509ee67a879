"""SWE-Bench Verified: data, environments (Docker / local), the gpt-oss agent, predictions and grading."""

from tasks.swebench.task import SweBenchTask

__all__ = ["SweBenchTask"]
