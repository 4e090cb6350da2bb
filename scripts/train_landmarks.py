"""Train the built-in faces' landmark regressor (for `collage stylize` without landmark files) and measure it.

Examples::

    python scripts/train_landmarks.py runs/landmarks --iterations 3000 --time-limit 4500
    python scripts/train_landmarks.py --evaluate neuralcollage/data/pretrained/builtin64/landmarks.npz --n 300

Training resumes from OUT_DIR's checkpoint; OUT_DIR/landmarks.npz is the snapshot to copy into
pretrained/builtin64/. --evaluate prints the held-out error (pixels at 64 px) of a snapshot as JSON.
"""
import argparse
import json
import sys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("out_dir", nargs="?", help="training folder")
    p.add_argument("--iterations", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=None, help="seconds; stop after a checkpoint")
    p.add_argument("--evaluate", metavar="NPZ", help="measure this snapshot instead of training")
    p.add_argument("--n", type=int, default=300, help="held-out faces for --evaluate")
    args = p.parse_args(argv)
    from neuralcollage.train import landmarks
    if args.evaluate:
        from neuralcollage.loading import load_model
        model = load_model(args.evaluate, kind="regressor")
        print(json.dumps(landmarks.held_out_landmark_error(model, n=args.n), indent=2))
        return 0
    if not args.out_dir:
        p.error("give OUT_DIR (or --evaluate NPZ)")
    landmarks.train_landmarks(args.out_dir, iterations=args.iterations, batch_size=args.batch_size, seed=args.seed,
                              time_limit=args.time_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
