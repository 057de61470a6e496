"""vw.batch on a LocalCluster of 2 worker processes: the same numbers as one video after the
other in one process, failing videos reported, resume from out, the engine built once per
worker; and the bad input that is refused before anything runs.

The videos are small synthetic clips (8 frames of 160x120) written to DAVIS-layout folders,
with the classic engine; one test reads two truncated DAVIS dev sequences when present.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

import vseg_widgets as vw
from vseg_widgets.batch import Job
from vseg_widgets.batch.cluster import local_cluster_kwargs
from vseg_widgets.batch.engines import builds
from vseg_widgets.engines import ClassicEngine
from vseg_widgets.errors import BatchJobError, BatchOutputError, ClusterConnectError, OutputPathError

FRAMES, HEIGHT, WIDTH = 8, 120, 160


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    before = dict(os.environ)
    with vw.batch.local_cluster(2) as c:
        assert dict(os.environ) == before  # starting it leaves this process's environment alone
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    from distributed import Client

    with Client(cluster) as c:
        yield c


def clip(seed: int, objects: int = 2):
    return vw.datasets.synthetic(num_frames=FRAMES, height=HEIGHT, width=WIDTH, num_objects=objects, seed=seed)


def davis_folder(root, names):
    for i, name in enumerate(names):
        vw.datasets.write_davis(root, name, *clip(seed=i, objects=1 + i % 2))
    return root


def serial_davis(root, names, max_frames=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The DAVIS protocol one sequence after the other, with the public API only."""
    frames, objects = [], []
    for name in names:
        video, gt = vw.datasets.load_davis(root, name)
        if max_frames is not None:
            video = vw.open_video(np.stack([video[i] for i in range(max_frames)]), fps=video.fps)
            short = vw.MaskStore(max_frames, gt.height, gt.width)
            for f in range(max_frames):
                for o in gt.objects(f):
                    short.set(f, o, gt.get(f, o))
                if gt.void(f) is not None:
                    short.set_void(f, gt.void(f))
            gt = short
        seg = vw.Segmenter(video, engine="classic")
        for obj in gt.objects(0):
            seg.add_mask(0, obj, gt.get(0, obj))
        seg.propagate("forward", progress=False)
        ev = vw.metrics.evaluate(seg.masks, gt, fps=video.fps, sequence=name)
        frames.append(ev.frames)
        objects.append(ev.objects)
    return pd.concat(frames, ignore_index=True), pd.concat(objects, ignore_index=True)


def scored(objects: pd.DataFrame) -> pd.DataFrame:
    """The batch objects table of the sequences that ran, in serial evaluate's dtypes."""
    ok = objects[objects["error"].isna()].drop(columns="error").reset_index(drop=True)
    return ok.astype({"obj_id": "int64", "frames": "int64"})


# -- the import stays light ------------------------------------------------------------------
def test_import_does_not_load_dask():
    code = "import sys, vseg_widgets as vw; vw.batch.Job; print('distributed' in sys.modules or 'dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_local_cluster_is_sized_to_the_machine(monkeypatch):
    monkeypatch.setattr("vseg_widgets.batch.cluster.cores", lambda: 2)
    kwargs = local_cluster_kwargs(tasks=10)
    assert (kwargs["n_workers"], kwargs["threads_per_worker"], kwargs["processes"]) == (2, 1, True)
    assert local_cluster_kwargs(tasks=1)["n_workers"] == 1  # no idle workers for one video


def test_local_cluster_workers_are_single_threaded_processes_without_malloc_trim(cluster, client):
    assert [w.nthreads for w in cluster.workers.values()] == [1, 1]
    env = client.run(lambda: (os.getpid() != PARENT, os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")))
    assert sorted(env.values()) == [(True, None, "1"), (True, None, "1")]


PARENT = os.getpid()


# -- evaluate_davis ----------------------------------------------------------------------------
def test_evaluate_davis_equals_serial_and_builds_the_engine_once_per_worker(client, tmp_path):
    names = ["s0", "s1", "s2", "s3"]
    root = davis_folder(tmp_path / "davis", names)

    def make_engine():  # a factory of this test only, so its cache key is new on the workers
        return ClassicEngine()

    before = client.run(builds)
    ev = vw.batch.evaluate_davis(root, engine=make_engine, client=client, progress=False)
    after = client.run(builds)

    frames, objects = serial_davis(root, names)
    pd.testing.assert_frame_equal(ev.frames, frames, check_exact=True)
    pd.testing.assert_frame_equal(scored(ev.objects), objects, check_exact=True)
    assert isinstance(ev, vw.metrics.Evaluation) and list(ev.frames.columns[:2]) == ["sequence", "frame"]
    assert ev.objects["error"].isna().all() and list(ev.videos["status"]) == ["done"] * 4
    assert ev.summary["JF_mean"] == pytest.approx(objects["JF_mean"].mean())
    assert (ev.summary["objects"], ev.summary["sequences"], ev.summary["failed"]) == (len(objects), 4, 0)

    new = {w: after[w].get(k, 0) - before[w].get(k, 0) for w in after for k in after[w] if k.startswith("factory:") and k not in before[w]}
    used = set(ev.videos["worker"])
    assert sum(new.values()) == len(used) <= 2 < len(names)  # one build per worker that ran videos, not per video
    assert all(n == 1 for n in new.values())


def test_failing_sequence_is_reported_and_rerun_resumes(client, tmp_path):
    names = ["good0", "bad", "good1"]
    root = davis_folder(tmp_path / "davis", names)
    frame4 = root / "JPEGImages/480p/bad/00004.jpg"
    original = frame4.read_bytes()
    frame4.write_bytes(b"not a jpeg")
    out = tmp_path / "out"

    with pytest.warns(UserWarning, match="1 of 3 sequences failed"):
        ev = vw.batch.evaluate_davis(root, names, engine="classic", client=client, out=out, progress=False)
    assert list(ev.videos["status"]) == ["done", "failed", "done"]
    bad = ev.objects[ev.objects["sequence"] == "bad"]
    assert len(bad) == 1 and "00004.jpg" in bad["error"].iloc[0] and pd.isna(bad["obj_id"].iloc[0])
    assert "bad" not in set(ev.frames["sequence"])
    frames, objects = serial_davis(root, ["good0", "good1"])
    pd.testing.assert_frame_equal(ev.frames, frames, check_exact=True)
    pd.testing.assert_frame_equal(scored(ev.objects), objects, check_exact=True)
    assert sorted(p.name for p in out.iterdir()) == ["good0", "good1"]  # the failure is not kept as finished

    # Rerun: the finished sequences are read back (their frames are gone, so computing them
    # again would fail), the failed one runs again now that its frame is repaired.
    frame4.write_bytes(original)
    good0 = root / "JPEGImages/480p/good0"
    for p in good0.iterdir():
        p.unlink()
    good0.rmdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = vw.batch.evaluate_davis(root, names, engine="classic", client=client, out=out, progress=False)
    assert list(again.videos["status"]) == ["resumed", "done", "resumed"]
    pd.testing.assert_frame_equal(again.frames[again.frames["sequence"] != "bad"].reset_index(drop=True), frames, check_exact=True)
    vw.datasets.write_davis(root, "good0", *clip(seed=0, objects=1))  # to compute the full serial reference
    frames_all, objects_all = serial_davis(root, names)
    pd.testing.assert_frame_equal(again.frames, frames_all, check_exact=True)
    pd.testing.assert_frame_equal(scored(again.objects), objects_all, check_exact=True)

    # Results of another engine are not mixed into this folder.
    with pytest.raises(BatchOutputError, match="another out folder"):
        vw.batch.evaluate_davis(root, names, engine="learned", client=client, out=out, progress=False)


def test_resume_ignores_a_damaged_result_and_a_partial_folder(client, tmp_path):
    root = davis_folder(tmp_path / "davis", ["a"])
    out = tmp_path / "out"
    first = vw.batch.evaluate_davis(root, engine="classic", client=client, out=out, progress=False)
    (out / "a" / "result.json").write_text('{"format": "vseg_widgets.batch/1", "frames_t')  # cut short
    (out / ".b.x.partial").mkdir()  # what a killed write leaves: never read
    with pytest.warns(UserWarning, match="not a readable batch result"):
        again = vw.batch.evaluate_davis(root, engine="classic", client=client, out=out, progress=False)
    assert list(again.videos["status"]) == ["done"]
    pd.testing.assert_frame_equal(again.frames, first.frames, check_exact=True)
    assert json.loads((out / "a" / "result.json").read_text())["settings"]["engine"] == "classic"


@pytest.mark.davis
def test_evaluate_davis_dev_sequences_equal_serial(client, davis_root):
    names = ["blackswan", "dog"]
    ev = vw.batch.evaluate_davis(davis_root, names, engine="classic", client=client, max_frames=6, progress=False)
    frames, objects = serial_davis(davis_root, names, max_frames=6)
    pd.testing.assert_frame_equal(ev.frames, frames, check_exact=True)
    pd.testing.assert_frame_equal(scored(ev.objects), objects, check_exact=True)
    assert ev.summary["J_mean"] > 0.5  # the true object is tracked over the first frames


# -- propagate -------------------------------------------------------------------------------
def test_propagate_writes_masks_equal_to_serial_and_resumes(client, tmp_path):
    folder_video, gt = clip(seed=3)
    vw.datasets.write_davis(tmp_path / "d", "walk", folder_video, gt)
    frames = tmp_path / "d/JPEGImages/480p/walk"
    seg = vw.Segmenter(frames, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    seg.set_label(2, "box")
    session = seg.save(tmp_path / "walk.vseg")

    array_video, _ = clip(seed=4)

    def clicks(s):  # a closure: pickled by value, runs on the worker
        s.add_box(0, 1, (20, 30, 80, 100))

    jobs = [
        Job(frames, session),
        Job(array_video.__getitem__(slice(None)), clicks, name="array", direction="forward"),
        Job(tmp_path / "missing.mp4", clicks),
    ]
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="1 of 3 videos failed"):
        table = vw.batch.propagate(jobs, engine="classic", client=client, out=out, progress=False)

    # serial, in this process
    ref_walk = vw.Segmenter.load(session, engine="classic")
    ref_walk.propagate("both", progress=False)
    ref_array = vw.Segmenter(array_video, engine="classic")
    clicks(ref_array)
    ref_array.propagate("forward", progress=False)

    assert list(table.columns) == ["video", *ref_walk.to_dataframe().columns, "error"]
    for name, ref in (("walk", ref_walk), ("array", ref_array)):
        got = table[table["video"] == name].drop(columns=["video", "error", "engine_ms"]).reset_index(drop=True)
        want = ref.to_dataframe().drop(columns="engine_ms")
        want["label"] = want["label"].astype(object).where(want["label"].notna(), None)  # pandas may infer str
        pd.testing.assert_frame_equal(got, want.astype({"frame": "Int64", "obj_id": "Int64", "area_px": "Int64"}), check_exact=True)
        written = vw.MaskStore.from_png_folder(out / name / "masks")
        assert all(np.array_equal(written.label_map(f), ref.masks.label_map(f)) for f in range(FRAMES))
    assert set(table.loc[table["video"] == "walk", "label"].dropna()) == {"box"}
    missing = table[table["video"] == "missing"]
    assert len(missing) == 1 and missing["error"].iloc[0].startswith("VideoNotFoundError") and pd.isna(missing["frame"].iloc[0])
    assert table.loc[table["video"] != "missing", "error"].isna().all()

    # Rerun with the same out: the finished videos are read back, not computed again (a
    # prompts function that raises would fail them), the missing one is tried again.
    def broken(s):
        raise RuntimeError("computed again")

    rerun = [Job(frames, broken), Job(array_video[:], broken, name="array"), Job(tmp_path / "missing.mp4", clicks)]
    with pytest.warns(UserWarning, match="1 of 3 videos failed"):
        again = vw.batch.propagate(rerun, engine="classic", client=client, out=out, progress=False)
    pd.testing.assert_frame_equal(again, table, check_exact=True)


def test_propagate_coco_masks_by_scheduler_address(cluster, tmp_path):
    video, gt = clip(seed=5)

    def prompts(s):
        s.add_mask(0, 1, gt.get(0, 1))

    out = tmp_path / "out"
    table = vw.batch.propagate([Job(video[:], prompts, name="v")], engine="classic", client=cluster.scheduler_address, out=out, mask_format="coco", progress=False)
    ref = vw.Segmenter(video, engine="classic")
    prompts(ref)
    ref.propagate(progress=False)
    assert vw.MaskStore.from_coco_json(out / "v" / "masks.json") == ref.masks
    assert len(table) == len(ref.to_dataframe()) and table["error"].isna().all()


def test_propagate_on_its_own_local_cluster(tmp_path):
    video, gt = clip(seed=6, objects=1)
    jobs = {"only": (video[:], lambda s: s.add_mask(0, 1, gt.get(0, 1)))}
    table = vw.batch.propagate(jobs, engine="classic", client=None, progress=False)  # starts and stops a LocalCluster
    assert list(table["video"].unique()) == ["only"] and table["error"].isna().all() and len(table) == FRAMES


# -- refused before anything runs ---------------------------------------------------------------
def test_bad_jobs_are_refused(tmp_path):
    with pytest.raises(BatchJobError, match="two jobs are named 'clip'"):
        vw.batch.propagate([Job("a/clip.mp4", print), Job("b/clip.mp4", print)], engine="classic")
    with pytest.raises(BatchJobError, match="saved session"):
        Job("clip.mp4", prompts=42)
    with pytest.raises(BatchJobError, match="needs a name"):
        Job(np.zeros((2, 32, 32, 3), np.uint8), print)
    with pytest.raises(BatchJobError, match="cannot name a video"):
        Job("clip.mp4", print, name="../up")
    with pytest.raises(BatchJobError, match="needs prompts=<session file>"):
        Job(None, print)
    with pytest.raises(BatchJobError, match="no jobs"):
        vw.batch.propagate([], engine="classic")
    with pytest.raises(BatchJobError, match="mask_format"):
        vw.batch.propagate([Job("clip.mp4", print)], engine="classic", mask_format="tiff")


def test_bad_engines_and_folders_are_refused(tmp_path):
    class Unpicklable(ClassicEngine):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

    with pytest.raises(BatchJobError, match="pickling it failed.*functools.partial"):
        vw.batch.propagate([Job("clip.mp4", print)], engine=Unpicklable())
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        vw.batch.evaluate_davis(tmp_path, ["a"], engine="fast")
    with pytest.raises(BatchJobError, match="no DAVIS sequences"):
        vw.batch.evaluate_davis(tmp_path, engine="classic")
    with pytest.raises(BatchJobError, match="max_frames"):
        vw.batch.evaluate_davis(tmp_path, ["a"], engine="classic", max_frames=2)
    (tmp_path / "file").write_text("x")
    with pytest.raises(BatchOutputError, match="is a file"):
        vw.batch.evaluate_davis(tmp_path, ["a"], engine="classic", out=tmp_path / "file")
    with pytest.raises(OutputPathError, match="cannot create the output folder"):
        vw.batch.evaluate_davis(tmp_path, ["a"], engine="classic", out=tmp_path / "file" / "out")


def test_unreachable_scheduler_is_named(tmp_path):
    import dask

    video, _ = clip(seed=0, objects=1)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ClusterConnectError, match="127.0.0.1:9.*dask scheduler"):
            vw.batch.propagate([Job(video[:], print, name="v")], engine="classic", client="tcp://127.0.0.1:9", progress=False)
