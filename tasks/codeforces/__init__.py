"""Codeforces-style evaluation: problems (loading/normalizing), judge (sandboxed compile and run), rating (Elo),
task (prompt, code extraction, grading) and metrics (the report section)."""

from tasks.codeforces.metrics import codeforces_metrics, codeforces_section, is_codeforces_run
from tasks.codeforces.task import CodeforcesTask, build_prompt, extract_code

__all__ = ["CodeforcesTask", "build_prompt", "codeforces_metrics", "codeforces_section", "extract_code",
           "is_codeforces_run"]
