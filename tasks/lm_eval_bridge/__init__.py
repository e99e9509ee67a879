"""lm-evaluation-harness tasks through our clients, store and reports.

Two ways in, one store format:

- the suite ``lm_eval`` (:mod:`tasks.lm_eval_bridge.task`): ``gptoss-eval suite=lm_eval
  suite.tasks=[gpqa_diamond_cot_zeroshot]``. lm-eval builds the requests, our engine generates them (effort,
  per-repeat seeds, resume, progress) and lm-eval's own filters and metrics grade every attempt; afterwards
  :meth:`LmEvalTask.finalize` replays the stored answers through ``lm_eval.simple_evaluate`` and writes
  ``lm_eval_results.json`` beside the store.
- the registered lm-eval model ``gptoss-harmony`` (:mod:`tasks.lm_eval_bridge.model`) for people who drive
  lm-eval themselves: ``import tasks.lm_eval_bridge.model`` then
  ``lm_eval.simple_evaluate(model="gptoss-harmony", model_args={...}, tasks=[...])``, or
  ``python -m tasks.lm_eval_bridge run --model gptoss-harmony ...`` (lm-eval's CLI with the model registered).

Nothing here imports lm-eval at package import time; install it with ``pip install 'gptoss-eval[lm-eval]'``.
"""
