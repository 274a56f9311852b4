"""Benchmark: does the audition serve the model each city's own evidence should pick?

    uv run python bench/audition.py                                   # 4 variants x 3 seeds
    uv run python bench/audition.py --variants default --seeds 1 --households 20000   # sizing

Per city (generated with 36 months, so experiments/audition.toml's two earlier splits exist):
1. every candidate of experiments/audition.toml trained alone on the experiment's own rounds
   (`anbu train` with the candidate's family and settings, a fresh store each): its precision at
   1 % against the truth on the test round, which the audition never sees;
2. `anbu train --config experiments/audition.toml`: the candidate the audition chose, and its
   wall time against the baseline candidate's `anbu train` in the same run (target <= 4x);
3. the same audition with another seed: whether the same family is chosen (stability).

Targets (issue 36): served >= the best candidate - 0.01 on >= 10 of 12 cities; never below today's
served model (the `lightgbm` candidate, the baseline's settings) by more than 0.01; the same family
on a reseed on >= 10 of 12.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tomllib
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cities import city, number, train  # noqa: E402

AUDITION = ROOT / "experiments" / "audition.toml"
BASELINE_CANDIDATE = "lightgbm"
"""The candidate with the baseline's settings: what `anbu train` serves today."""


def _config(folder: Path, name: str, document: dict) -> Path:
    path = folder / f"{name}.toml"
    path.write_bytes(tomli_w.dumps(document).encode("utf-8"))
    return path


def _candidate_document(audition: dict, candidate: dict) -> dict:
    """The experiment as one candidate alone trains it (no audition)."""
    document = {k: v for k, v in audition.items() if k != "audition"}
    document["name"] = f"audition-{candidate['name']}"
    document["model"] = {
        "family": candidate["family"],
        **({"logistic_c": candidate["logistic_c"]} if "logistic_c" in candidate else {}),
    }
    document["lightgbm"] = {**audition["lightgbm"], **candidate.get("lightgbm", {})}
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants", nargs="+", default=["default", "unfamiliar", "noisy_visits", "other_hazard"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "audition")
    arguments = parser.parse_args()

    audition = tomllib.loads(AUDITION.read_text(encoding="utf-8"))
    candidates = audition["audition"]["candidates"]
    rows = []
    for variant in arguments.variants:
        for seed in arguments.seeds:
            data = city(arguments.work, variant, seed, arguments.households, months=36)
            stores = arguments.work / f"stores-{variant}-{seed}"
            with tempfile.TemporaryDirectory(prefix="anbu-audition-") as folder:
                truth, seconds = {}, {}
                for candidate in candidates:
                    run = train(
                        data,
                        _config(Path(folder), candidate["name"], _candidate_document(audition, candidate)),
                        stores / candidate["name"],
                    )
                    truth[candidate["name"]] = number(run.figures, "truth", "precision_at_capacity")
                    seconds[candidate["name"]] = run.seconds
                chosen_run = train(data, AUDITION, stores / "audition")
                chosen = chosen_run.tags.get("audition.chosen", "")
                reseeded = {**audition, "seed": int(audition.get("seed", 7)) + 1}
                again = train(data, _config(Path(folder), "reseeded", reseeded), stores / "audition-reseed")
            family = {c["name"]: c["family"] for c in candidates}
            best = max(truth.values())
            served = number(chosen_run.figures, "truth", "precision_at_capacity")
            row = {
                "city": f"{variant}/{seed}",
                "chosen": chosen,
                "served": served,
                "best": best,
                "best_candidate": max(truth, key=truth.get),
                "baseline": truth[BASELINE_CANDIDATE],
                "reseed_chosen": again.tags.get("audition.chosen", ""),
                "stable": family.get(again.tags.get("audition.chosen", "")) == family.get(chosen),
                "audition_seconds": chosen_run.seconds,
                "baseline_seconds": seconds[BASELINE_CANDIDATE],
                **{f"truth_{name}": value for name, value in truth.items()},
            }
            rows.append(row)
            print(
                f"{row['city']}: chose {chosen} (reseeded: {row['reseed_chosen']}); served {served:.3f}, "
                f"best {best:.3f} ({row['best_candidate']}), baseline {row['baseline']:.3f}; audition "
                f"{chosen_run.seconds:.0f} s = {chosen_run.seconds / seconds[BASELINE_CANDIDATE]:.1f}x the baseline's train",
                flush=True,
            )
    names = [c["name"] for c in candidates]
    print()
    print(
        f"Precision at 1 % against the truth, test round 2026-07-31 ({arguments.households:,} households, 36 months)"
    )
    print()
    print(
        "| city | "
        + " | ".join(names)
        + " | chosen | served - best | served - baseline | reseed: same family | audition ÷ baseline train |"
    )
    print("|---|" + "---:|" * len(names) + "---|---:|---:|---|---:|")
    for row in rows:
        print(
            f"| {row['city']} | "
            + " | ".join(f"{row[f'truth_{n}']:.3f}" for n in names)
            + f" | {row['chosen']} | {row['served'] - row['best']:+.3f} | {row['served'] - row['baseline']:+.3f} "
            f"| {'yes' if row['stable'] else 'no (' + row['reseed_chosen'] + ')'} | "
            f"{row['audition_seconds'] / row['baseline_seconds']:.1f}x |"
        )
    near = sum(row["served"] >= row["best"] - 0.01 for row in rows)
    never_below = all(row["served"] >= row["baseline"] - 0.01 for row in rows)
    stable = sum(row["stable"] for row in rows)
    print()
    print(f"served within 0.01 of the best candidate: {near} of {len(rows)} (target >= 10 of 12)")
    print(f"never below today's served model by more than 0.01: {'yes' if never_below else 'no'}")
    print(f"the same family on a reseed: {stable} of {len(rows)} (target >= 10 of 12)")


if __name__ == "__main__":
    main()
