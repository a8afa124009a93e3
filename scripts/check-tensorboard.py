#!/usr/bin/env python3
"""Check that a Fauve run's TensorBoard events open in real TensorBoard (the `tensorboard`
package's EventAccumulator) and hold the expected tags.

Usage: check-tensorboard.py RUN_DIR/tb [STEPS]
"""
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

EXPECTED_SCALARS = ["loss/content", "loss/style", "loss/total", "perf/images_per_sec", "train/lr"]


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    acc = EventAccumulator(sys.argv[1], size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    missing = [t for t in EXPECTED_SCALARS if t not in tags["scalars"]]
    if missing or "sample" not in tags["images"]:
        print(f"error: missing tags: scalars {missing}, images {tags['images']}", file=sys.stderr)
        return 1
    total = acc.Scalars("loss/total")
    images = acc.Images("sample")
    if len(sys.argv) > 2 and total[-1].step != int(sys.argv[2]):
        print(f"error: last loss/total step {total[-1].step}, expected {sys.argv[2]}", file=sys.stderr)
        return 1
    print(f"tensorboard: {len(tags['scalars'])} scalar tags, {len(total)} loss/total points "
          f"(last {total[-1].value:.4g} at step {total[-1].step}), {len(images)} sample image(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
