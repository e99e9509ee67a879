"""lm-eval's own command line with ``gptoss-harmony`` registered (lm-eval's CLI cannot import our package).

    python -m tasks.lm_eval_bridge run --model gptoss-harmony \
        --model_args base_url=http://gpu:8000/v1,model=openai/gpt-oss-120b,effort=high,max_model_len=131072,run_dir=outputs/lm_eval/gpqa_high \
        --tasks gpqa_diamond_cot_zeroshot --apply_chat_template

The store in ``run_dir`` keeps analysis and usage per request, and a rerun resumes from it.
"""

from __future__ import annotations

import tasks.lm_eval_bridge.model  # noqa: F401  (registers the model)


def main() -> None:
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":
    main()
