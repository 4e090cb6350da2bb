"""Stylisation evaluation, benchmark script and the landmark regressor's data and error measure."""
import importlib.util
import os

import numpy
import pytest

from neuralcollage.stylize.evaluation import METHODS, evaluate_stylize, format_stylize_table, stylize_cases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cases_pair_one_face_in_two_poses():
    case = next(iter(stylize_cases(1, size=48)))
    assert case["exemplar"].shape == case["target"].shape == case["truth"].shape == (48, 48, 3)
    assert (case["target"] != case["truth"]).any() and (case["exemplar"] != case["truth"]).any()
    assert case["exemplar_landmarks"].shape == case["target_landmarks"].shape
    assert len(case["exemplar_landmarks"]) >= 5


def test_evaluation_scores_every_method_in_range():
    results = evaluate_stylize(n=1, size=32, max_patches=40)
    for method in METHODS:
        for key in ("part_iou", "patch_match", "ssim"):
            if (method, key) != ("truth", "part_iou"):
                assert -1.0 <= results[method][key] <= 1.0
    assert results["truth"]["ssim"] == 1.0
    assert "| warp |" in format_stylize_table(results)


def test_perfect_landmark_predictions_score_as_the_renderer():
    from neuralcollage.datasets import pose_of, render_landmarks, render_sample
    lookup = {}
    for case in stylize_cases(2, size=32):
        lookup[case["exemplar"].tobytes()] = render_landmarks(case["seed"], size=32)
        lookup[case["target"].tobytes()] = render_landmarks(case["seed"], size=32,
                                                            pose=pose_of(case["seed"] + 5 * 10 ** 6))
    a = evaluate_stylize(n=2, size=32, max_patches=30, methods=("warp",))
    b = evaluate_stylize(n=2, size=32, max_patches=30, methods=("warp",),
                         landmark_predictor=lambda image: lookup[image.tobytes()])
    assert a["warp"] == b["warp"]


def test_bench_stylize_runs(capsys):
    spec = importlib.util.spec_from_file_location("bench_stylize", os.path.join(ROOT, "benchmarks",
                                                                                "bench_stylize.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--sides", "32", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 32 |" in out and "'patch_iterations': 0" in out
    assert bench.main(["--sides", "32", "--repeats", "1", "--hatching"]) == 0
    out = capsys.readouterr().out
    assert "| 32 |" in out and "'patch_iterations': 3" in out and "'lattice': 'auto'" in out


class _Oracle:
    """Stands in for the regressor: returns the renderer's normalised landmarks of the images it was shown."""

    resolution = 64

    def __init__(self, images, targets):
        self.table = {im.tobytes(): t for im, t in zip(images, targets)}

    def predict(self, images):
        return numpy.stack([self.table[im.tobytes()] for im in images])


def test_landmark_error_of_exact_predictions_is_zero():
    from neuralcollage.datasets import held_out_seeds
    from neuralcollage.train.landmarks import LANDMARK_OUTPUTS, held_out_landmark_error, landmark_batch
    images, targets = landmark_batch(held_out_seeds(6), size=64)
    assert targets.shape == (6, len(LANDMARK_OUTPUTS))
    result = held_out_landmark_error(_Oracle(images, targets), n=6)
    assert result["mean_px"] == pytest.approx(0.0, abs=1e-5)
    assert set(result["per_style"]) == {"plain", "hatch", "watercolour"}


def test_evaluate_script_writes_strict_json(tmp_path):
    import json
    spec = importlib.util.spec_from_file_location("evaluate_stylize", os.path.join(ROOT, "scripts",
                                                                                   "evaluate_stylize.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "eval.json"
    assert script.main(["--n", "1", "--sizes", "32", "--max-patches", "20", "--methods", "warp", "truth",
                        "-o", str(out)]) == 0
    result = json.loads(out.read_text())[0]
    assert result["truth"]["part_iou"] is None and 0 <= result["warp"]["part_iou"] <= 1


def test_detected_part_iou_with_an_oracle_detector_is_the_warps_field_iou():
    """A detector that finds the truth's own landmarks on any output detects the parts the landmark warp
    carries (the same MLS field), so every method's detected IoU is the warp's field IoU; a detector 3 px off
    scores lower."""
    from neuralcollage.datasets import pose_of, render_landmarks
    truth_lm = {}
    for case in stylize_cases(2, size=48):
        truth_lm[case["seed"]] = render_landmarks(case["seed"], size=48, pose=pose_of(case["seed"] + 5 * 10 ** 6))
    current = {}

    def oracle(image, shift=0.0):
        return truth_lm[current["seed"]] + shift

    from neuralcollage.stylize import evaluation as ev
    cases = list(stylize_cases(2, size=48))
    warp = evaluate_stylize(n=2, size=48, max_patches=20, methods=("warp",))["warp"]["part_iou"]
    exact, off = [], []
    for case in cases:
        current["seed"] = case["seed"]
        exact.append(ev.detected_part_iou(case["truth"], case, oracle))
        off.append(ev.detected_part_iou(case["truth"], case, lambda image: oracle(image, 3.0)))
    assert numpy.mean(exact) == pytest.approx(warp, abs=1e-9)
    assert numpy.mean(off) < numpy.mean(exact) - 0.05
    results = evaluate_stylize(n=1, size=32, max_patches=20, methods=("styleblit", "truth"),
                               part_detector=lambda image: render_landmarks(0, size=32))
    assert all(0 <= results[m]["part_iou_detected"] <= 1 for m in ("styleblit", "truth"))
    assert "detected on the output" in format_stylize_table(results)


def test_paired_study_agrees_with_the_evaluation(capsys):
    """scripts/stylize_studies.py paired scores the same faces as evaluate_stylize: its mean SSIM of ours (the
    defaults with the part guide) and of the warp are the evaluation's styleblit_parts and warp."""
    import re
    spec = importlib.util.spec_from_file_location("stylize_studies", os.path.join(ROOT, "scripts",
                                                                                  "stylize_studies.py"))
    studies = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(studies)
    assert studies.main(["paired", "--size", "32", "--n", "2", "--styles", "watercolour"]) == 0
    line = capsys.readouterr().out
    ours, warp, diff = (float(v) for v in re.search(r"ours (\S+) warp (\S+) diff (\S+)", line).groups())
    results = evaluate_stylize(n=2, size=32, style="watercolour", max_patches=10, methods=("styleblit_parts", "warp"))
    assert ours == pytest.approx(results["styleblit_parts"]["ssim"], abs=6e-4)
    assert warp == pytest.approx(results["warp"]["ssim"], abs=6e-4)
    assert diff == pytest.approx(results["styleblit_parts"]["ssim"] - results["warp"]["ssim"], abs=6e-5)
