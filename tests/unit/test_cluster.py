"""KubeRay manifests validate against the real CRD schemas, made strict the way a strict API server is;
pod templates pass kubernetes-validate --strict; no inline secrets anywhere in cluster/, jobs/ or configs/;
the image is built from pinned versions and a context that holds no private data."""

from __future__ import annotations

import copy
import functools
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# shared/ lies beside the checkout (CI, /work/main) or beside the folder of git worktrees (/work/wt/<branch>)
_CRD_PLACES = [ROOT.parent / "shared" / "kuberay", ROOT.parent.parent / "shared" / "kuberay"]
CRDS = next((p for p in _CRD_PLACES if p.exists()), _CRD_PLACES[0])
STORAGE = ROOT / "cluster" / "storage.yaml"  # plain Kubernetes objects the Ray manifests expect
MANIFESTS = sorted(p for p in (ROOT / "cluster").glob("*.yaml") if p != STORAGE)  # RayCluster / RayJob
K8S_VERSION = "1.30.0"


def strict(schema: Any) -> Any:
    """additionalProperties: false on every object schema with properties and no preserve-unknown-fields."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
            and "additionalProperties" not in out
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def require_crds() -> None:
    """Skip where the CRDs are not beside the checkout, but never silently in CI."""
    if CRDS.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"KubeRay CRDs missing at {CRDS}: CI must validate the manifests")
    pytest.skip(f"KubeRay CRDs not at {CRDS}")


def crd_schema(kind: str) -> dict[str, Any]:
    name = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml"}[kind]
    crd = yaml.safe_load((CRDS / name).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return strict(version["schema"]["openAPIV3Schema"])


@functools.cache  # parsing a CRD takes seconds: once per kind
def validator(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(crd_schema(kind))


def pod_templates(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"].get("rayClusterSpec", doc["spec"])
    if "headGroupSpec" not in spec:
        return []
    groups = [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]
    return [g["template"] for g in groups]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_strict_crd(path: Path) -> None:
    require_crds()
    doc = yaml.safe_load(path.read_text())
    errors = list(validator(doc["kind"]).iter_errors(doc))
    assert not errors, [e.message for e in errors]


def test_typo_and_wrong_type_are_caught() -> None:
    require_crds()
    doc = yaml.safe_load((ROOT / "cluster" / "rayjob-demo.yaml").read_text())
    v = validator("RayJob")
    typo = copy.deepcopy(doc)
    typo["spec"]["shutdownAfterJobFinish"] = typo["spec"].pop("shutdownAfterJobFinishes")
    assert list(v.iter_errors(typo))
    nested = copy.deepcopy(doc)
    nested["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replica"] = 2
    assert list(v.iter_errors(nested))
    wrong = copy.deepcopy(doc)
    wrong["spec"]["shutdownAfterJobFinishes"] = "yes"
    assert list(v.iter_errors(wrong))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_pod_templates_pass_kubernetes_validate_strict(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    for template in pod_templates(doc):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t"}, "spec": template["spec"]}
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True


def test_every_cluster_keeps_auth_on_and_gpu_workers_request_gpus() -> None:
    heads = 0
    for path in MANIFESTS:
        doc = yaml.safe_load(path.read_text())
        spec = doc["spec"].get("rayClusterSpec", doc["spec"])
        if "headGroupSpec" in spec:
            heads += 1
            assert spec.get("authOptions") == {"mode": "token", "secretName": "rpsg-ray-auth-token"}, path.name
    assert heads >= 3
    gpu = yaml.safe_load((ROOT / "cluster" / "raycluster-gpu.yaml").read_text())
    limits = gpu["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "8"


def test_volumes_and_service_account_the_pods_use_are_declared() -> None:
    declared = {}
    for doc in yaml.safe_load_all(STORAGE.read_text()):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        declared[(doc["kind"], doc["metadata"]["name"])] = doc
    used = 0
    for path in MANIFESTS:
        for template in pod_templates(yaml.safe_load(path.read_text())):
            account = template["spec"]["serviceAccountName"]
            assert ("ServiceAccount", account) in declared, f"{path.name}: {account}"
            for volume in template["spec"].get("volumes", []):
                if "persistentVolumeClaim" in volume:
                    used += 1
                    claim = declared.get(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
                    assert claim and claim["spec"]["accessModes"] == ["ReadWriteMany"], f"{path.name}: {volume}"
    assert used


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(re-include?, pattern) per .dockerignore line, with Docker's glob rules (`**` spans directories)."""
    ignore = ROOT / ".dockerignore"
    rules = []
    for line in (ignore.read_text() if ignore.exists() else "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        rx = re.escape(glob).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        rules.append((keep, re.compile(rx.replace(r"\?", "[^/]"))))
    return rules


def in_image(path: str) -> bool:
    """Whether `docker build` sends this repository path: the last rule matching it or a parent wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    sent = True
    for keep, rx in dockerignore_rules():
        if any(rx.fullmatch(p) for p in prefixes):
            sent = keep
    return sent


def test_image_context_holds_the_package_and_no_private_data() -> None:
    for private in (
        "data/demo/rotten_tomatoes.parquet",
        "runs/demo/lineage.parquet",
        "runs/x/parts/p.parquet",
        ".venv/bin/python",
        ".git/HEAD",
        "rpsg-error.log",
        "rpsg_ray/__pycache__/x.pyc",
    ):
        assert not in_image(private), private
    for needed in (
        "pyproject.toml",
        "README.md",
        "constraints.txt",
        "rpsg_ray/pipeline.py",
        "rpsg_ray/engines/vllm_engine.py",
        "configs/gpu.yaml",
        "jobs/generate.py",
    ):
        assert in_image(needed), needed


def test_image_installs_pinned_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    gpu = project["optional-dependencies"]["gpu"]
    assert any(d.startswith("vllm==") for d in gpu)
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][\w.+]*", d) for d in gpu), gpu
    dockerfile = (ROOT / "cluster" / "Dockerfile").read_text()
    installs = re.findall(r"pip install ([^\n&]+)", dockerfile)
    assert installs
    for args in installs:  # each install is constrained, or names exact versions only
        named = [a for a in args.split() if not a.startswith("-")]
        assert "-c " in args or all("==" in a for a in named), args


SECRET_PATTERNS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(
        r"(?i)[a-z_]*(password|passwd|secret|token|api[_-]?key|access[_-]?key)\b\s*[:=]\s*[\"']?[A-Za-z0-9+/_\-]{8,}"
    ),
    re.compile(r"hf_[A-Za-z0-9]{30,}"),  # Hugging Face token
    re.compile(r"ghp_[A-Za-z0-9]{30,}"),
]


def find_secrets(text: str) -> list[str]:
    return [m.group(0) for p in SECRET_PATTERNS for m in p.finditer(text)]


def test_no_inline_secrets() -> None:
    files = [p for d in ("cluster", "jobs", "configs") for p in (ROOT / d).rglob("*") if p.is_file()]
    assert files
    leaks = {str(p): find_secrets(p.read_text()) for p in files}
    assert not {k: v for k, v in leaks.items() if v}


@pytest.mark.parametrize(
    "line", ["RAY_AUTH_TOKEN: 3f9a8c7d6e5b4a39", "aws_access_key: AKIAIOSFODNN7EXAMPLE", "password = hunter2hunter2"]
)
def test_secret_scanner_catches_inline_secrets(line: str) -> None:
    assert find_secrets(line)
