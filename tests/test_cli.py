"""The CLI as a user meets it: help text, the privacy calculator, one-line errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from make_bad_inputs import CANARY, build

from rpsg_ray.cli import main

ROOT = Path(__file__).resolve().parents[1]


def rpsg(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rpsg_ray.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_help_reads_well() -> None:
    top = rpsg("--help")
    assert top.returncode == 0
    for word in ("generate", "account", "prepare", "config-reference", "examples:"):
        assert word in top.stdout
    gen = rpsg("generate", "--help")
    for flag in ("--config", "--input", "--output", "--set", "--resume", "--overwrite", "--address"):
        assert flag in gen.stdout


def printed(text: str, name: str) -> float:
    return float(text.split(f"{name} = ")[1].split()[0])


@pytest.mark.parametrize(
    "flags",
    [
        ["--method", "augpe", "--delta", "1.1824e-6", "--iterations", "10"],
        ["--delta", "1e-5", "--candidates", "4", "--selections", "2"],
        ["--records", "2000", "--candidates", "3", "--selections", "1"],
    ],
)
def test_account_round_trip(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """ε → σ → ε comes back to 1e-6, through the same ledger code a run uses."""
    assert main(["account", "--epsilon", "1", *flags]) == 0
    sigma = printed(capsys.readouterr().out, "sigma")
    assert main(["account", "--sigma", repr(sigma), *flags]) == 0
    assert printed(capsys.readouterr().out, "epsilon") == pytest.approx(1.0, abs=1e-6)


def test_account_matches_the_published_augpe_sigma(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["account", "--method", "augpe", "--epsilon", "1", "--delta", "1.1824e-6", "--iterations", "10"]) == 0
    assert "sigma = 13.25" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["--epsilon", "0", "--delta", "1e-5"],
        ["--epsilon", "1", "--delta", "1"],
        ["--epsilon", "1"],
        ["--epsilon", "1", "--delta", "0.01", "--records", "1000"],
    ],
)
def test_account_rejects_impossible_requests(args: list[str]) -> None:
    out = rpsg("account", *args)
    assert out.returncode == 2 and out.stderr.startswith("error:") and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "case", ["empty_file", "wrong_columns_csv", "truncated_parquet", "missing_path", "symlink_loop", "header_only_csv"]
)
def test_generate_bad_input_is_one_line(case: str, tmp_path: Path) -> None:
    path = build(case, tmp_path / "in")
    out = rpsg(
        "generate",
        "--config",
        str(ROOT / "configs" / "demo.yaml"),
        "--input",
        str(path),
        "--output",
        str(tmp_path / "run"),
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and out.stderr.startswith("error:")
    assert CANARY not in out.stderr + out.stdout and "Traceback" not in out.stderr


@pytest.mark.parametrize("override", ["privacy.delta=1", "stages.abstract.candidates=0", "oops.key=1"])
def test_generate_bad_config_is_one_line(override: str, tmp_path: Path) -> None:
    out = rpsg("generate", "--config", str(ROOT / "configs" / "demo.yaml"), "--set", override)
    assert out.returncode == 2 and out.stderr.startswith("error: invalid config") and "Traceback" not in out.stderr
